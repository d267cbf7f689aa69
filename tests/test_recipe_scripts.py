"""Recipes 1 and 2 through their train scripts, chained as in the paper (smoke mode).

roberta-12e, then each two-stage variant from it; bart-12e12d, then recipe 1 from it.
The checkpoints they write are held to the recipes' invariants: a frozen encoder is
bit-identical to the MLM encoder (weight decay is on in every script), an unfrozen one
moves after the switch, a resumed run ends where an uninterrupted one does.
"""

import shutil
import sys

import pytest
import torch
from helpers import generate, run, train_script, validate

import fairseq_recipes  # noqa: F401  (weights-only loading of fairseq checkpoints)
from fairseq_recipes.checkpoints import encoder_state
from fairseq_recipes.recipes import STAGES

TWO_STAGE = [
    "2stage-bart-12e12d",
    "2stage-bart-12e12d-attn-f",
    "2stage-bart-12e12d-unfrz",
]


def _encoder(path):
    return encoder_state.encoder_weights(encoder_state.load(path))


def _model(path):
    return encoder_state.load(path)["model"]


def _differing(a, b):
    return sorted(k for k in a if not torch.equal(a[k], b[k]))


@pytest.mark.parametrize("name", ["2stage-bart-12e12d", "2stage-bart-12e12d-attn-f"])
def test_frozen_throughout_keeps_the_mlm_encoder(smoke, name):
    mlm_dir, _ = smoke("roberta-12e")
    save_dir, log = smoke(name)
    assert STAGES[name].freeze_encoder_updates == -1
    assert "warm start: encoder" in log and "weight_decay': 0.01" in log
    mlm = _encoder(mlm_dir / "checkpoint_last.pt")
    final = _model(save_dir / "checkpoint_last.pt")
    encoder = {
        k[len("encoder.") :]: v for k, v in final.items() if k.startswith("encoder.")
    }
    assert sorted(encoder) == sorted(mlm)
    assert _differing(encoder, mlm) == []  # bit-identical after every update
    # one embedding for encoder and decoder input; the LM head trained away from it
    assert torch.equal(final["decoder.embed_tokens.weight"], mlm["embed_tokens.weight"])
    assert not torch.equal(
        final["decoder.output_projection.weight"], mlm["embed_tokens.weight"]
    )
    fusion = [k for k in final if "layer_fusion" in k]
    assert fusion == (["decoder.layer_fusion.queries"] if name.endswith("attn-f") else [])
    if fusion:
        assert final[fusion[0]].abs().sum() > 0  # the fusion queries learned something


def test_unfreezing_moves_the_encoder_after_the_switch(smoke):
    name = "2stage-bart-12e12d-unfrz"
    mlm_dir, _ = smoke("roberta-12e")
    save_dir, log = smoke(name)
    assert "encoder unfrozen at update 10" in log
    mlm = _encoder(mlm_dir / "checkpoint_last.pt")
    (at_switch,) = save_dir.glob("checkpoint_*_10.pt")
    assert _differing(_encoder(at_switch), mlm) == []
    after = _encoder(save_dir / "checkpoint_last.pt")
    moved = _differing(after, mlm)
    assert "embed_tokens.weight" in moved and "layer_norm.weight" in moved
    assert any(k.startswith("layers.0.") for k in moved)


@pytest.mark.parametrize("stop_at", [6, 13], ids=["frozen-phase", "after-switch"])
def test_resumed_run_equals_uninterrupted(smoke, data_bin, tmp_path, stop_at):
    """Interrupted at `stop_at` (the switch is at 10 of 18), then resumed: same weights."""
    name = "2stage-bart-12e12d-unfrz"
    mlm_dir, _ = smoke("roberta-12e")
    uninterrupted, _ = smoke(name)
    init = mlm_dir / "checkpoint_last.pt"
    save_dir = tmp_path / name
    env = {"INIT": init, "LOG_INTERVAL": 1, "SAVE_INTERVAL": 5}
    train_script(name, data_bin, save_dir, "--max-update", stop_at, **env)
    proc = train_script(name, data_bin, save_dir, **env)
    out = proc.stdout + proc.stderr
    assert f"@ {stop_at} updates)" in out and "warm start from" in out
    ours = _model(save_dir / "checkpoint_last.pt")
    theirs = _model(uninterrupted / "checkpoint_last.pt")
    assert sorted(ours) == sorted(theirs)
    assert _differing(ours, theirs) == []


def test_recipe1_extracts_the_encoder_and_continues_with_mlm(smoke):
    bart_dir, _ = smoke("bart-12e12d")
    save_dir, log = smoke("bart-12e12d+mlm")
    assert "wrote " in log and "loading pretrained model from" in log
    extracted = _model(save_dir / "encoder_init.pt")
    bart = _encoder(bart_dir / "checkpoint_last.pt")
    prefix = encoder_state.MLM_ENCODER_PREFIX
    assert (
        _differing(
            {k[len(prefix) :]: v for k, v in extracted.items() if k.startswith(prefix)},
            bart,
        )
        == []
    )
    head = extracted["encoder.lm_head.weight"]
    assert torch.equal(head, bart["embed_tokens.weight"])
    final = _model(save_dir / "checkpoint_last.pt")
    # trained on untied: the head's projection and the embeddings moved apart
    embed = final[prefix + "embed_tokens.weight"]
    assert not torch.equal(final["encoder.lm_head.weight"], embed)


def test_fusion_model_decodes_with_beam_search(smoke, data_bin):
    save_dir, _ = smoke("2stage-bart-12e12d-attn-f")
    hyps, refs = generate(data_bin / "shard0", save_dir / "checkpoint_last.pt")
    assert hyps and len(hyps) == len(refs)


def test_trained_model_loads_without_the_mlm_checkpoint(smoke, data_bin, tmp_path):
    """fairseq-validate reads a two-stage checkpoint with the MLM checkpoint it started
    from and its own training directory both gone."""
    mlm_dir, _ = smoke("roberta-12e")
    save_dir, _ = smoke("2stage-bart-12e12d")
    model = tmp_path / "model.pt"
    shutil.copy(save_dir / "checkpoint_last.pt", model)
    moved = [(d, d.with_name(d.name + ".hidden")) for d in (mlm_dir, save_dir)]
    for d, hidden in moved:
        d.rename(hidden)
    try:
        out = validate(data_bin / "shard0", model, "valid_en")
    finally:
        for d, hidden in moved:
            hidden.rename(d)
    assert "valid on 'valid_en' subset" in out and "warm start" not in out


def test_missing_init_is_one_line_error(data_bin, tmp_path):
    save_dir = tmp_path / "two-stage"
    proc = run(
        ["bash", "train_scripts/2stage-bart-12e12d.sh"],
        env={
            "SMOKE": "1",
            "DATA": str(data_bin),
            "SAVE_DIR": str(save_dir),
            "INIT": str(tmp_path / "nope.pt"),
            "PYTHON": sys.executable,
        },
        check=False,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr  # the script tees fairseq-train's stderr into its log
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {tmp_path / 'nope.pt'}: no such checkpoint file"]
    assert "Traceback" not in out
    assert errors[0] in (save_dir / "train.log").read_text()
    assert not list(save_dir.glob("*.pt"))


def test_recipe1_refuses_an_mlm_checkpoint(smoke, tmp_path):
    mlm_dir, _ = smoke("roberta-12e")
    out = tmp_path / "out.pt"
    out.write_text("keep me")
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_recipes.checkpoints.extract_encoder",
            "--input",
            mlm_dir / "checkpoint_last.pt",
            "--output",
            out,
            "--overwrite",
        ],
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "is an MLM (RoBERTa-style) checkpoint, but a seq2seq checkpoint" in proc.stderr
    assert out.read_text() == "keep me"
