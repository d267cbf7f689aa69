"""Recipe 3's joint model in-process: its shape, where each objective's gradient goes,
the weighted sum of both, the idle parts kept exact, the schedule and the ledger."""

import copy
from argparse import Namespace

import pytest
import torch
from fairseq import optim
from fairseq_setup import setup
from helpers import DECODER_WIDTH, ENCODER_WIDTH, flop_counter

from fairseq_recipes.cost.ledger import FLOPS_KEY, TOKENS_KEY, TU_KEY, objective_key
from fairseq_recipes.cost.model_shape import ModelShape, count_parameters
from fairseq_recipes.data.objective_schedule import (
    DENOISING,
    MLM,
    ObjectiveSchedule,
    planned_updates,
)
from fairseq_recipes.errors import RecipesError

WIDTH = ENCODER_WIDTH + DECODER_WIDTH
NO_DROPOUT = ["--dropout", "0", "--attention-dropout", "0"]
PER_LAYER_TOKEN = 1 / (100_000 * 1_000_000 * 12)  # the paper's TU per layer and token


def _build(data_bin, *extra, dropout=False):
    """(task, model, criterion, args); without dropout unless asked (gradients compared
    across passes must be deterministic)."""
    args = [
        "--task",
        "recipes_joint_pretraining",
        "--arch",
        "bart_12e12d_joint",
        "--criterion",
        "recipes_joint",
        *WIDTH,
        *([] if dropout else NO_DROPOUT),
        *extra,
    ]
    task, ns = setup(data_bin / "shard0", *args)
    return task, task.build_model(ns), task.build_criterion(ns), ns


def _batch(task, n=4):
    task.load_dataset("valid")
    ds = task.dataset("valid")
    return ds.collater([ds[i] for i in range(min(n, len(ds)))])


class _Backward:
    """The one thing ``task.train_step`` asks of fairseq's optimizer."""

    def backward(self, loss):
        loss.backward()


def _step(task, model, criterion, batch, update):
    model.zero_grad()
    return task.train_step(batch, model, criterion, _Backward(), update)


def _own(module, shared):
    return {n: p for n, p in module.named_parameters() if id(p) not in shared}


def test_the_joint_model_is_bart_12e12d_with_a_tied_mlm_head(data_bin):
    task, model, _, _ = _build(data_bin)
    embed = model.encoder.embed_tokens.weight
    assert model.mlm_head.weight is embed and model.decoder.embed_tokens.weight is embed
    assert model.decoder.output_projection.weight is embed
    shape = ModelShape.of_model(model)
    assert shape.mlm_head and shape.decoder_layers == 12 and shape.tied_output
    assert sum(p.numel() for p in model.parameters()) == count_parameters(shape)
    # built as bart_12e12d is (the head after it): the same seed, the same weights
    torch.manual_seed(1)
    _, bart, _, _ = _build(
        data_bin, "--arch", "bart_12e12d", "--criterion", "cross_entropy"
    )
    torch.manual_seed(1)
    _, joint, _, _ = _build(data_bin)
    theirs = bart.state_dict()
    ours = {k: v for k, v in joint.state_dict().items() if not k.startswith("mlm_head.")}
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_each_objective_sends_gradients_where_it_computes(data_bin):
    task, model, criterion, _ = _build(
        data_bin, "--objective-schedule", "sample", "--mlm-share", "0.5"
    )
    batch = _batch(task)
    shared = {id(p) for p in model.encoder.parameters()}
    decoder, head = _own(model.decoder, shared), _own(model.mlm_head, shared)
    assert decoder and set(head) == {
        "dense.weight",
        "dense.bias",
        "layer_norm.weight",
        "layer_norm.bias",
        "bias",
    }
    updates = {
        o: next(u for u in range(100) if task.schedule.objectives(u) == (o,))
        for o in (MLM, DENOISING)
    }
    # an MLM update: encoder and head, no gradient at all for the decoder's own weights
    _, _, log = _step(task, model, criterion, batch, updates[MLM])
    assert all(p.grad is None for p in decoder.values())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.values())
    assert model.encoder.layers[0].fc1.weight.grad.abs().sum() > 0
    assert log["_mlm_tokens"] > 0 and log["_denoising_tokens"] == 0
    # a denoising update: none for the MLM head's own weights
    _, _, log = _step(task, model, criterion, batch, updates[DENOISING])
    assert all(p.grad is None for p in head.values())
    assert all(p.grad is not None for p in decoder.values())
    assert log["_mlm_tokens"] == 0 and log["_denoising_tokens"] == batch["ntokens"]


def _gradients(model, sample_size):
    """Every parameter's gradient divided by ``sample_size``, as fairseq's trainer does."""
    return {
        n: p.grad / sample_size for n, p in model.named_parameters() if p.grad is not None
    }


def test_both_objectives_give_the_weighted_sum_of_the_two_gradients(data_bin):
    weights = ["--mlm-weight", "0.7", "--denoising-weight", "1.3"]
    task, model, criterion, _ = _build(data_bin, "--objective-schedule", "sum", *weights)
    batch = _batch(task)
    _, size, _ = _step(task, model, criterion, batch, 0)
    both = _gradients(model, size)
    separate = {}
    for objective in (MLM, DENOISING):
        model.zero_grad()
        loss, size, _ = criterion(model, {**batch, "objectives": (objective,)})
        loss.backward()
        separate[objective] = _gradients(model, size)
    encoder = [n for n, _ in model.named_parameters() if n.startswith("encoder.")]
    assert len(encoder) > 100
    for name in encoder:
        # each separate loss already carries its weight: their sum is the weighted sum
        expected = separate[MLM][name] + separate[DENOISING][name]
        torch.testing.assert_close(both[name], expected, rtol=1e-4, atol=1e-7)
    fc1 = [n for n in encoder if n.endswith("fc1.weight")]
    assert all(separate[o][n].abs().sum() > 0 for o in (MLM, DENOISING) for n in fc1)
    # and the weights are those asked for: the MLM term is 0.7 x the unweighted one
    model.zero_grad()
    criterion.weights[MLM] = 1.0
    loss, size, _ = criterion(model, {**batch, "objectives": (MLM,)})
    loss.backward()
    unweighted = _gradients(model, size)
    name = "encoder.layers.0.fc1.weight"
    torch.testing.assert_close(separate[MLM][name], 0.7 * unweighted[name])


@pytest.mark.parametrize("objective", [MLM, DENOISING])
def test_idle_parts_stay_bit_identical_under_zero_gradients(data_bin, objective):
    """legacy_ddp (and fairseq's fp16 optimizers) hand parameters without a gradient a
    zero one, and Adam's weight decay would move them: the task restores them."""
    task, model, criterion, _ = _build(
        data_bin, "--objective-schedule", "sample", "--mlm-share", "0.5"
    )
    cfg = Namespace(
        optimizer="adam",
        lr=[1e-2],
        adam_betas="(0.9, 0.98)",
        adam_eps=1e-6,
        weight_decay=0.01,
        use_old_adam=False,
        fp16_adam_stats=False,
        tpu=False,
    )
    optimizer = optim.build_optimizer(cfg, list(model.parameters()))
    batch = _batch(task)
    update = next(u for u in range(100) if task.schedule.objectives(u) == (objective,))
    idle = model.idle_parameters((objective,))
    for protect in (True, False):
        before = [p.detach().clone() for p in idle]
        optimizer.zero_grad()
        task.train_step(batch, model, criterion, optimizer, update)
        for p in model.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        if protect:
            task.optimizer_step(optimizer, model, update)
        else:
            optimizer.step()
        unchanged = all(torch.equal(a, p) for a, p in zip(before, idle))
        assert unchanged is protect
    assert model.encoder.layers[0].fc1.weight.grad.abs().sum() > 0


def test_schedules():
    alternate = ObjectiveSchedule("alternate", 1 / 6, seed=1)
    mlm = [u for u in range(600) if alternate.objectives(u) == (MLM,)]
    assert mlm == list(range(5, 600, 6))
    assert planned_updates(600_000, "alternate", 1 / 6) == {
        MLM: 100_000,
        DENOISING: 500_000,
    }
    sample = ObjectiveSchedule("sample", 0.25, seed=1)
    drawn = [sample.objectives(u) for u in range(4000)]
    assert drawn == [
        ObjectiveSchedule("sample", 0.25, seed=1).objectives(u) for u in range(4000)
    ]
    assert drawn != [
        ObjectiveSchedule("sample", 0.25, seed=2).objectives(u) for u in range(4000)
    ]
    share = sum(d == (MLM,) for d in drawn) / len(drawn)
    assert 0.23 < share < 0.27  # 4000 Bernoulli(0.25) draws: sd 0.007
    assert ObjectiveSchedule("sum", 0, seed=1).objectives(7) == (MLM, DENOISING)
    with pytest.raises(ValueError, match="MLM share must be in"):
        ObjectiveSchedule("alternate", 1.5, seed=1)


def test_bad_schedule_is_one_line_error(data_bin):
    with pytest.raises(RecipesError, match="--mlm-share: the MLM share must be in"):
        _build(data_bin, "--mlm-share", "0")


@pytest.mark.parametrize(
    "schedule, update, layers",
    [
        ("alternate", 5, {MLM: 12}),
        ("alternate", 0, {DENOISING: 24}),
        ("sum", 0, {MLM: 12, DENOISING: 24}),
    ],
)
def test_the_ledger_prices_what_each_update_computed(data_bin, schedule, update, layers):
    # with dropout, as in test_ledger: without it fairseq's attention takes torch's fused
    # kernel, whose backward torch counts with a recomputation of the scores
    task, model, criterion, _ = _build(
        data_bin, "--objective-schedule", schedule, dropout=True
    )
    task.load_dataset("valid")
    ds = task.dataset("valid")
    longest = max(range(len(ds)), key=ds.size)
    batch = ds.collater([ds[longest]])  # one block: no padding, torch counts the same
    with flop_counter() as counter:
        _, _, log = _step(task, model, criterion, batch, update)
    assert log[FLOPS_KEY] == pytest.approx(counter.get_total_flops(), rel=0.02)
    tokens = batch["ntokens"]
    assert log[TOKENS_KEY] == tokens
    assert log[TU_KEY] == pytest.approx(tokens * sum(layers.values()) * PER_LAYER_TOKEN)
    for objective in (MLM, DENOISING):
        tu = log[objective_key(TU_KEY, objective)]
        assert tu == pytest.approx(tokens * layers.get(objective, 0) * PER_LAYER_TOKEN)
    # the ledger keeps each objective's updates and tokens
    task.reduce_metrics([log], criterion)
    entries = task.ledger.objectives
    assert {o for o, e in entries.items() if e["updates"]} == set(layers)
    assert all(entries[o]["tokens"] == tokens for o in layers)
    saved = copy.deepcopy(task.state_dict())
    assert saved["recipes_ledger"]["objectives"] == entries
