"""The live compute ledger: per batch against torch's FLOP count, cumulative in the log,
in checkpoints, across a resume, and in TensorBoard."""

import json
import re
import shutil
import struct

import pytest
import torch
from fairseq import checkpoint_utils
from fairseq_setup import setup
from helpers import (
    DECODER_WIDTH,
    ENCODER_WIDTH,
    flop_counter,
    python_module,
    train_script,
)

from fairseq_recipes import train_log
from fairseq_recipes.cost.ledger import FLOPS_KEY, LEDGER_STATE_KEY, TOKENS_KEY, TU_KEY

UNFRZ = "2stage-bart-12e12d-unfrz"
# the paper's unit, written out: TU per token of a layer
PER_LAYER_TOKEN = 1 / (100_000 * 1_000_000 * 12)


class _Backward:
    """The one thing ``task.train_step`` asks of fairseq's optimizer."""

    def backward(self, loss):
        loss.backward()


def _one_block(task):
    """A batch of one training block: no padding, so torch counts the same work."""
    task.load_dataset("valid")
    ds = task.dataset("valid")
    longest = max(range(len(ds)), key=ds.size)
    return ds.collater([ds[longest]])


MLM = ["--task", "recipes_mlm", "--arch", "roberta_12e", "--criterion", "masked_lm"]
TWO_STAGE = ["--arch", "two_stage_bart_12e12d", "--freeze-encoder-updates"]


@pytest.mark.parametrize(
    "args, update, frozen, decoder_layers",
    [
        (MLM, 0, False, 0),
        ([*TWO_STAGE, "3"], 0, True, 12),
        ([*TWO_STAGE, "3"], 5, False, 12),
        ([*TWO_STAGE, "-1", "--cross-attention", "fusion"], 0, True, 12),
        (["--arch", "bart_12e1d"], 0, False, 1),
    ],
    ids=["mlm", "frozen", "unfrozen", "fusion-frozen", "bart_12e1d"],
)
def test_batch_cost_equals_torchs_count_of_the_training_step(
    data_bin, args, update, frozen, decoder_layers
):
    if args is MLM:
        width = ENCODER_WIDTH
    else:
        args = ["--task", "recipes_span_denoising", "--criterion", "cross_entropy", *args]
        width = ENCODER_WIDTH + DECODER_WIDTH
    task, ns = setup(data_bin / "shard0", *args, *width)
    model = task.build_model(ns)
    criterion = task.build_criterion(ns)
    sample = _one_block(task)
    with flop_counter() as counter:
        _, _, log = task.train_step(sample, model, criterion, _Backward(), update)
    assert log[FLOPS_KEY] == pytest.approx(counter.get_total_flops(), rel=0.02)
    assert getattr(model.encoder, "frozen", False) == frozen
    layers = 12 * (0.5 if frozen else 1) + decoder_layers
    assert log[TOKENS_KEY] == sample["ntokens"]
    assert log[TU_KEY] == pytest.approx(sample["ntokens"] * layers * PER_LAYER_TOKEN)


def _ledger_lines(log):
    """{update: (tokens, tu, flops)} of a fairseq JSON log at --log-interval 1."""
    return {
        u: (int(r["wpb"]), r["tu"], r["flops"])
        for u, r in train_log.per_update(log).items()
    }


def test_live_ledger_equals_the_prediction_for_the_tokens_seen(smoke):
    save_dir, log = smoke(UNFRZ)
    (switch,) = re.findall(r"encoder unfrozen at update (\d+)", log)
    lines = _ledger_lines(log)
    assert sorted(lines) == list(range(1, max(lines) + 1)) and int(switch) == 10
    expected, previous_flops = 0.0, 0.0
    per_token_flops = {True: [], False: []}
    for update in sorted(lines):
        tokens, tu, flops = lines[update]
        frozen = update <= int(switch)  # updates 1..10 run with num_updates 0..9
        expected += tokens * (12 * (0.5 if frozen else 1) + 12) * PER_LAYER_TOKEN
        assert tu == pytest.approx(expected, rel=1e-4)
        per_token_flops[frozen].append((flops - previous_flops) / tokens)
        previous_flops = flops
    # the frozen phase costs less per token, by FLOPs too
    assert max(per_token_flops[True]) < min(per_token_flops[False])
    # the checkpoint carries the run's total
    state = checkpoint_utils.load_checkpoint_to_cpu(str(save_dir / "checkpoint_last.pt"))
    ledger = state["task_state"][LEDGER_STATE_KEY]
    assert ledger["tokens"] == sum(tokens for tokens, _, _ in lines.values())
    assert ledger["tu"] == pytest.approx(expected, rel=1e-9)
    assert ledger["flops"] == pytest.approx(lines[max(lines)][2], rel=1e-5)


def test_resumed_run_continues_its_ledger(smoke, data_bin, tmp_path):
    save_dir, log = smoke(UNFRZ)
    init = smoke("roberta-12e")[0] / "checkpoint_last.pt"
    resumed = tmp_path / UNFRZ
    resumed.mkdir()
    # resume at the end of the frozen phase (the run keeps updates 10 and 15)
    (at_switch,) = save_dir.glob("checkpoint_*_10.pt")
    shutil.copy(at_switch, resumed / "checkpoint_last.pt")
    proc = train_script(
        UNFRZ, data_bin, resumed, LOG_INTERVAL=1, SAVE_INTERVAL=5, INIT=init
    )
    assert "Loaded checkpoint" in proc.stdout + proc.stderr
    whole, second = _ledger_lines(log), _ledger_lines(proc.stdout + proc.stderr)
    assert min(second) == 11 and max(second) == max(whole)
    for update, (tokens, tu, flops) in second.items():
        assert tokens == whole[update][0]
        assert tu == pytest.approx(whole[update][1], rel=1e-4)
        assert flops == pytest.approx(whole[update][2], rel=1e-4)


def _tensorboard_scalars(logdir):
    """{(run, tag): [(step, value)]} from tensorboardX event files (TFRecord framing)."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in logdir.glob("*/events.out.tfevents.*"):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                key = (path.parent.name, value.tag)
                scalars.setdefault(key, []).append((event.step, value.simple_value))
    return scalars


def test_tensorboard_gets_the_running_totals(data_bin, tmp_path):
    logdir = tmp_path / "tb"
    proc = train_script(
        "roberta-12e",
        data_bin,
        tmp_path / "ck",
        "--tensorboard-logdir",
        logdir,
        UPDATES=4,
        LOG_INTERVAL=1,
    )
    lines = _ledger_lines(proc.stdout + proc.stderr)
    scalars = _tensorboard_scalars(logdir)
    tu = dict(scalars[("train_inner", "tu")])
    assert sorted(tu) == [1, 2, 3, 4]
    for update, (_, logged, _) in lines.items():
        assert tu[update] == pytest.approx(logged, rel=1e-4)  # float32 in TensorBoard
    flops = dict(scalars[("train_inner", "flops")])
    assert flops[4] == pytest.approx(lines[4][2], rel=1e-4)


def test_validation_is_not_counted(data_bin):
    task, ns = setup(
        data_bin / "shard0",
        "--task",
        "recipes_mlm",
        "--arch",
        "roberta_12e",
        "--criterion",
        "masked_lm",
        *ENCODER_WIDTH,
    )
    model = task.build_model(ns)
    criterion = task.build_criterion(ns)
    sample = _one_block(task)
    with torch.no_grad():
        _, _, log = task.valid_step(sample, model, criterion)
    task.reduce_metrics([log], criterion)
    assert task.ledger.tu == 0 and task.ledger.flops == 0
    _, _, log = task.train_step(sample, model, criterion, _Backward(), 0)
    task.reduce_metrics([log, log], criterion)  # two workers' outputs
    assert task.ledger.tokens == 2 * sample["ntokens"]
    assert task.state_dict()[LEDGER_STATE_KEY]["tu"] == 2 * log[TU_KEY]


def test_recipes_cost_reads_the_ledger_of_checkpoints(smoke, tmp_path):
    save_dir, log = smoke(UNFRZ)
    lines = _ledger_lines(log)
    proc = python_module(
        "fairseq_recipes.cost.cli",
        "--format",
        "json",
        "--checkpoints",
        save_dir / "checkpoint_last.pt",
    )
    (row,) = json.loads(proc.stdout)
    assert row["updates"] == max(lines)
    assert row["tokens"] == sum(tokens for tokens, _, _ in lines.values())
    assert row["tu"] == pytest.approx(lines[max(lines)][1], rel=1e-4)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    proc = python_module("fairseq_recipes.cost.cli", "--checkpoints", junk, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: {junk}: not a readable fairseq checkpoint")
    )
