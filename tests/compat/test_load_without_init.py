"""Loading a checkpoint without the random initialisation it replaces
(compat/load_without_init.py): the same weights as stock fairseq, no random draw, and
the stock build whenever a weight was not loaded."""

import threading

import pytest
import torch
from fairseq import checkpoint_utils

import fairseq_recipes  # noqa: F401  (installs the fix)
from fairseq_recipes.compat import load_without_init
from fairseq_recipes.errors import RecipesError


@pytest.fixture(scope="module")
def bart(smoke):
    return smoke("bart-12e2d")[0] / "checkpoint_last.pt"


def _stock_load(path, **kwargs):
    return checkpoint_utils.load_model_ensemble_and_task.__wrapped__(
        [str(path)], **kwargs
    )


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_stock_fairseq_draws_every_weight_before_loading_it(bart):
    # the pinned stock behaviour: its loader advances the random stream (the draws)
    before = torch.get_rng_state()
    _stock_load(bart)
    assert not torch.equal(before, torch.get_rng_state())


def test_the_loader_draws_nothing_and_loads_what_stock_loads(bart):
    before = torch.get_rng_state()
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(bart)])
    assert torch.equal(before, torch.get_rng_state())
    (stock,), _, _ = _stock_load(bart)
    assert _same_weights(model, stock)
    state = torch.load(bart, map_location="cpu", weights_only=False)["model"]
    ours = model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in state.items() if k in ours)
    assert not load_without_init.has_nan([model])


def test_load_model_ensemble_positional_strict_false_keeps_the_stock_init(bart):
    before = torch.get_rng_state()
    checkpoint_utils.load_model_ensemble([str(bart)], None, None, False)
    assert not torch.equal(before, torch.get_rng_state())


def test_a_checkpoint_holding_nan_loads_as_stock_loads_it(bart, tmp_path):
    state = torch.load(bart, map_location="cpu", weights_only=False)
    key = "decoder.layers.0.fc1.weight"
    state["model"][key][0, 0] = float("nan")
    path = tmp_path / "nan.pt"
    torch.save(state, path)
    before = torch.get_rng_state()
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(path)])
    assert not torch.equal(before, torch.get_rng_state())  # built again, stock
    (stock,), _, _ = _stock_load(path)
    weights, expected = model.state_dict(), stock.state_dict()
    assert torch.isnan(weights[key][0, 0])
    assert torch.equal(weights[key][1:], expected[key][1:])
    assert all(torch.equal(weights[k], expected[k]) for k in weights if k != key)


class _Two(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 4)
        self.b = torch.nn.Linear(4, 4)


def test_a_weight_left_unloaded_gets_the_stock_init_not_nan():
    source = _Two()
    builds = []

    def build_and_load():  # loads a, forgets b: b must be drawn, as stock draws it
        model = _Two()
        builds.append(load_without_init.skipping())
        model.a.load_state_dict(source.a.state_dict())
        return model

    model = load_without_init.loaded(build_and_load, lambda m: [m])
    assert builds == [True, False]
    assert torch.equal(model.a.weight, source.a.weight)
    assert torch.isfinite(model.b.weight).all() and model.b.weight.abs().sum() > 0


def test_a_fully_loaded_model_is_built_once_with_no_draw():
    source = _Two()
    builds = []

    def build_and_load():
        model = _Two()
        builds.append(load_without_init.skipping())
        model.load_state_dict(source.state_dict())
        return model

    before = torch.get_rng_state()
    model = load_without_init.loaded(build_and_load, lambda m: [m])
    assert builds == [True] and torch.equal(before, torch.get_rng_state())
    assert _same_weights(model, source)


def test_the_skip_ends_with_the_load_even_when_it_fails_and_is_per_thread():
    seen = []

    def failing():
        worker = threading.Thread(target=lambda: seen.append(torch.empty(8).normal_()))
        worker.start()
        worker.join()
        seen.append(torch.empty(8).normal_())
        raise RecipesError("x.pt: weights do not fit the model")

    with pytest.raises(RecipesError, match="x.pt"):
        load_without_init.loaded(failing, lambda m: [m])
    other_thread, this_thread = seen
    assert torch.isfinite(other_thread).all() and torch.isnan(this_thread).all()
    assert not load_without_init.skipping()
    assert torch.isfinite(torch.empty(8).normal_()).all()
    assert torch.isfinite(torch.empty(8).uniform_()).all()
