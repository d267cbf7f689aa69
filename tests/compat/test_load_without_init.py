"""Loading a checkpoint without first making the weights it replaces
(compat/load_without_init.py: a build on the meta device, the checkpoint's tensors
assigned): the same weights, ties and dtypes as stock fairseq, no random draw, and the
stock build whenever a tensor was not loaded."""

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
    state = torch.load(bart, map_location="cpu", weights_only=True)["model"]
    ours = model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in state.items() if k in ours)
    assert not load_without_init.has_meta([model])
    assert model.decoder._future_mask.device.type == "cpu"  # made empty at build


def _ties(model):
    names = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(name)
    return sorted(sorted(group) for group in names.values())


def _storages(model):
    return {p.untyped_storage().data_ptr() for p in model.parameters()}


def test_tied_weights_stay_tied_and_untied_ones_apart(bart):
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(bart)])
    (stock,), _, _ = _stock_load(bart)
    assert _ties(model) == _ties(stock)
    assert any(len(group) > 1 for group in _ties(stock))  # share_all_embeddings
    assert len(_storages(model)) == len(list(model.parameters()))


def test_load_model_ensemble_positional_strict_false_keeps_the_stock_init(bart):
    before = torch.get_rng_state()
    checkpoint_utils.load_model_ensemble([str(bart)], None, None, False)
    assert not torch.equal(before, torch.get_rng_state())


def test_a_checkpoint_holding_nan_loads_as_stock_loads_it_once(bart, tmp_path):
    state = torch.load(bart, map_location="cpu", weights_only=True)
    key = "decoder.layers.0.fc1.weight"
    state["model"][key][0, 0] = float("nan")
    path = tmp_path / "nan.pt"
    torch.save(state, path)
    before = torch.get_rng_state()
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(path)])
    assert torch.equal(before, torch.get_rng_state())  # no stock rebuild
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


def _on_meta(make=_Two):
    with load_without_init.building():
        return make()


def test_a_weight_left_unloaded_gets_the_stock_init():
    source = _Two()
    builds = []

    def build_and_load():  # loads a, forgets b: b must be drawn, as stock draws it
        model = _on_meta()
        builds.append(model.b.weight.is_meta)
        model.a.load_state_dict(source.a.state_dict())
        return model

    model = load_without_init.loaded(build_and_load, lambda m: [m])
    assert builds == [True, False]
    assert torch.equal(model.a.weight, source.a.weight)
    assert not load_without_init.has_meta([model]) and model.b.weight.abs().sum() > 0


def _load(state):
    def build_and_load():
        model = _on_meta()
        model.load_state_dict(state)
        return model

    before = torch.get_rng_state()
    model = load_without_init.loaded(build_and_load, lambda m: [m])
    assert torch.equal(before, torch.get_rng_state())  # built once, on meta
    return model


def test_a_fully_loaded_model_is_built_once_with_no_draw():
    source = _Two()
    model = _load(source.state_dict())
    assert _same_weights(model, source)
    assert model.a.weight.requires_grad and isinstance(model.a.weight, torch.nn.Parameter)


def test_the_checkpoint_dtype_is_cast_to_the_model_as_stock_copies_it():
    source = _Two()
    half = {k: v.half() for k, v in source.state_dict().items()}
    model = _load(half)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.equal(model.state_dict()[k], v.float()) for k, v in half.items())


def test_one_stored_tensor_loaded_into_two_weights_gives_two_tensors():
    state = _Two().state_dict()
    state["b.weight"] = state["a.weight"]  # one storage in the checkpoint
    state["b.bias"] = torch.arange(8.0)[::2]  # not contiguous
    model = _load(state)
    assert torch.equal(model.a.weight, model.b.weight)
    assert len(_storages(model)) == 4 and model.b.bias.is_contiguous()
    with torch.no_grad():
        model.b.weight.add_(1)
    assert torch.equal(model.a.weight, state["a.weight"])


def test_a_build_that_meta_cannot_run_is_built_again_stock():
    def make():
        model = _Two()
        model.scale = float(model.a.weight.detach().abs().sum())  # needs data
        return model

    builds = []

    def build_and_load():
        builds.append(load_without_init.skipping())
        return _on_meta(make)

    model = load_without_init.loaded(build_and_load, lambda m: [m])
    assert builds == [True, False] and model.scale > 0


def test_the_skip_ends_with_the_load_even_when_it_fails_and_is_per_thread():
    seen = []

    def failing():
        with load_without_init.building():
            worker = threading.Thread(target=lambda: seen.append(torch.empty(8)))
            worker.start()
            worker.join()
            seen.append(torch.empty(8))
        raise RecipesError("x.pt: weights do not fit the model")

    with pytest.raises(RecipesError, match="x.pt"):
        load_without_init.loaded(failing, lambda m: [m])
    other_thread, this_thread = seen
    assert not other_thread.is_meta and this_thread.is_meta
    assert not load_without_init.skipping()
    with load_without_init.building():
        assert not torch.empty(8).is_meta
