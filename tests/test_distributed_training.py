"""Data-parallel training on CPU: 2 ranks started by the train scripts (torchrun, gloo).

Every process is observed by ``tools/probes`` (final weights and per-update batch of
each rank). Dropout is off so that 2 ranks of one batch each and 1 rank accumulating both
batches (``--update-freq 2``) compute the same update: fairseq hands batch i of an epoch
to rank i mod 2, and with update frequency 2 one rank takes batches 2k and 2k+1 together.
"""

import json
import os

import pytest
import torch
from helpers import ROOT, final_updates, train_script

from fairseq_recipes import train_log
from fairseq_recipes.checkpoints import encoder_state

PROBE = ROOT / "tools" / "probes"
NO_DROPOUT = ["--attention-dropout", "0", "--activation-dropout", "0"]
#: one block batch per rank and forward pass; two of them per update
BATCH = {"MAX_TOKENS": 1024, "TOKENS_PER_UPDATE": 2048, "DROPOUT": 0}


def _train(name, data_bin, save_dir, ranks, *args, **env):
    """Run a train script on ``ranks`` CPU processes; (output, {rank: (weights, log)})."""
    probe = save_dir.parent / f"{save_dir.name}.probe"
    probe.mkdir(parents=True, exist_ok=True)
    for old in probe.iterdir():
        old.unlink()
    path = os.pathsep.join(filter(None, [str(PROBE), os.environ.get("PYTHONPATH")]))
    env = {
        "CPU_RANKS": ranks,
        "LOG_INTERVAL": 1,
        "PYTHONPATH": path,
        "RECIPES_RANK_PROBE": probe,
        **BATCH,
        **env,
    }
    proc = train_script(name, data_bin, save_dir, *NO_DROPOUT, *args, **env)
    ranks_seen = {}
    for weights in sorted(probe.glob("rank*.pt")):
        rank = int(weights.stem[4:])
        log = json.loads(weights.with_suffix(".json").read_text())
        ranks_seen[rank] = (torch.load(weights), log)
    return proc.stdout + proc.stderr, ranks_seen


def _identical_ranks(ranks, world=2) -> bool:
    """All ``world`` ranks reported, with the same weights, bit for bit."""
    if sorted(ranks) != list(range(world)):
        return False
    first = ranks[0][0]
    return all(
        sorted(w) == sorted(first) and all(torch.equal(w[k], first[k]) for k in first)
        for w, _ in ranks.values()
    )


def _max_diff(a, b):
    assert sorted(a) == sorted(b)
    return max((a[k] - b[k]).abs().max().item() for k in a)


def _wpb(out):
    """Tokens per update as fairseq logs them (all ranks summed), one per update."""
    return [r["wpb"] for r in train_log.records(out, "train_inner")]


@pytest.mark.parametrize("name", ["roberta-12e", "bart-12e2d"])
def test_two_ranks_equal_one_rank_accumulating(data_bin, tmp_path, name):
    """MLM and span denoising: both ranks end bit-identical; the update is the sum of both
    ranks' batches, the same as one rank accumulating the two batches."""
    env = {"UPDATES": 6}
    out2, two = _train(name, data_bin, tmp_path / "two", 2, **env)
    out1, one = _train(name, data_bin, tmp_path / "one", 1, **env)
    assert "launcher=torchrun world=2 update_freq=1" in out2
    assert "launcher=fairseq world=1 update_freq=2" in out1
    assert sorted(two) == [0, 1] and sorted(one) == [0]
    (w0, log0), (_, log1), (w, log) = two[0], two[1], one[0]
    assert _identical_ranks(two)  # replicas stay identical
    # each rank trained on its own batch; the update's batch is their sum
    per_rank = [
        (a["ntokens"], b["ntokens"]) for a, b in zip(log0["updates"], log1["updates"])
    ]
    assert len(per_rank) == 6 and all(a > 0 and b > 0 for a, b in per_rank)
    accumulated = [u["ntokens"] for u in log["updates"]]
    assert accumulated == [a + b for a, b in per_rank]
    assert _wpb(out2) == [float(a + b) for a, b in per_rank]
    # the same updates: equal up to float summation order; one rank taking only its own
    # batch (update frequency 1) ends far from both
    _, alone = _train(
        name, data_bin, tmp_path / "alone", 1, TOKENS_PER_UPDATE=1024, **env
    )
    assert _max_diff(w0, w) < 1e-5
    assert _max_diff(w0, alone[0][0]) > 100 * max(_max_diff(w0, w), 1e-6)


def _encoder(path):
    return encoder_state.encoder_weights(encoder_state.load(path))


@pytest.mark.parametrize("ddp_backend", ["c10d", "legacy_ddp"])
def test_two_stage_through_the_freeze_switch(smoke, data_bin, tmp_path, ddp_backend):
    """Recipe 2 on 2 ranks (switch at update 10 of 18): the encoder is bit-identical to
    the MLM encoder until the switch and trains after it, on both DDP backends."""
    name = "2stage-bart-12e12d-unfrz"
    mlm = smoke("roberta-12e")[0] / "checkpoint_last.pt"
    save_dir = tmp_path / name
    out, ranks = _train(
        name, data_bin, save_dir, 2, INIT=mlm, SAVE_INTERVAL=5, DDP_BACKEND=ddp_backend
    )
    assert f"'ddp_backend': '{ddp_backend}'" in out
    assert ("'find_unused_parameters': True" in out) == (ddp_backend == "c10d")
    assert "encoder unfrozen at update 10" in out and final_updates(out) == 18
    assert _identical_ranks(ranks)
    start = _encoder(mlm)
    (at_switch,) = save_dir.glob("checkpoint_*_10.pt")
    assert all(torch.equal(v, start[k]) for k, v in _encoder(at_switch).items())
    after = _encoder(save_dir / "checkpoint_last.pt")
    assert not torch.equal(after["layers.0.fc1.weight"], start["layers.0.fc1.weight"])


@pytest.mark.parametrize("first,then", [(2, 1), (1, 2)], ids=["2-then-1", "1-then-2"])
def test_checkpoint_resumes_across_world_sizes(data_bin, tmp_path, first, then):
    """A run stopped at update 4 on `first` ranks continues to 8 on `then` ranks."""
    save_dir = tmp_path / "roberta-12e"
    env = {"UPDATES": 8, "SAVE_INTERVAL": 4}
    out, _ = _train("roberta-12e", data_bin, save_dir, first, "--max-update", "4", **env)
    assert final_updates(out) == 4
    out, ranks = _train("roberta-12e", data_bin, save_dir, then, **env)
    assert "@ 4 updates)" in out  # loaded the other world size's checkpoint
    assert f"world={then}" in out and final_updates(out) == 8
    assert sorted(ranks) == list(range(then))
    assert all(len(log["updates"]) == 4 for _, log in ranks.values())


def test_zero_stage_one_shards_the_optimizer_state(data_bin, tmp_path):
    """--zero-sharding os (ZERO=1): the same weights as plain data parallelism, each rank
    holding part of Adam's state and all of it together; its checkpoint resumes."""
    pytest.importorskip("fairscale")
    env = {"UPDATES": 6, "SAVE_INTERVAL": 3}
    out, zero = _train(
        "roberta-12e", data_bin, tmp_path / "zero", 2, "--max-update", "3", ZERO=1, **env
    )
    assert "'zero_sharding': 'os'" in out
    out, zero = _train("roberta-12e", data_bin, tmp_path / "zero", 2, ZERO=1, **env)
    assert "@ 3 updates)" in out and final_updates(out) == 6
    _, plain = _train("roberta-12e", data_bin, tmp_path / "plain", 2, **env)
    assert _max_diff(zero[0][0], plain[0][0]) < 1e-6
    assert _identical_ranks(zero)
    full = plain[0][1]["optimizer_state_bytes"]
    shards = [zero[r][1]["optimizer_state_bytes"] for r in (0, 1)]
    assert plain[1][1]["optimizer_state_bytes"] == full
    assert sum(shards) == full and max(shards) < 0.75 * full


@pytest.mark.parametrize(
    "precision,dtype",
    [
        (["--bf16"], torch.bfloat16),
        (["--fp16", "--fp16-no-flatten-grads"], torch.float16),
    ],
    ids=["bf16", "fp16"],
)
def test_frozen_encoder_under_mixed_precision_on_two_ranks(
    smoke, data_bin, tmp_path, precision, dtype
):
    """Recipe 2 frozen throughout, 2 ranks, half-precision weights over fp32 masters:
    the encoder stays the MLM encoder rounded to that precision, bit for bit, on both
    ranks. (fairseq's flat fp32 master buffer needs CUDA; on CPU, fp16 runs per parameter,
    and bf16 always does. The flat buffer is covered in tests/models/test_two_stage.py.)
    """
    name = "2stage-bart-12e12d"
    mlm = smoke("roberta-12e")[0] / "checkpoint_last.pt"
    save_dir = tmp_path / name
    out, ranks = _train(name, data_bin, save_dir, 2, *precision, INIT=mlm, UPDATES=4)
    assert final_updates(out) == 4
    start = {k: v.to(dtype).float() for k, v in _encoder(mlm).items()}
    for weights, _ in ranks.values():
        encoder = {
            k[len("encoder.") :]: v
            for k, v in weights.items()
            if k.startswith("encoder.")
        }
        assert sorted(encoder) == sorted(start)
        assert all(torch.equal(v, start[k]) for k, v in encoder.items())
    assert _identical_ranks(ranks)
    w0 = ranks[0][0]
    # the decoder trained: its output projection left the embeddings it started from
    assert not torch.equal(
        w0["decoder.output_projection.weight"], start["embed_tokens.weight"]
    )
