"""Recipe 3 (bart-12e12d-joint) through its train script in smoke mode: both losses, the
ledger against the prediction, the two models each run writes (fine-tuned by
recipes-finetune, exported to transformers, decoded by fairseq-generate), and a resumed
run equal to the uninterrupted one, the objective schedule included."""

import json
import math

import pytest
import torch
import transformers
from helpers import generate, python_module, train_losses, train_script

import fairseq_recipes  # noqa: F401  (weights-only loading of fairseq checkpoints)
from fairseq_recipes import recipe3, train_log
from fairseq_recipes.checkpoints import encoder_state
from fairseq_recipes.checkpoints.joint_views import ENCODER_VIEW, SEQ2SEQ_VIEW
from fairseq_recipes.cost.ledger import LEDGER_STATE_KEY
from fairseq_recipes.cost.training_units import training_units
from fairseq_recipes.data.objective_schedule import DENOISING, MLM, planned_updates

NAME = recipe3.NAME
LAYERS = {MLM: (12, 0), DENOISING: (12, 12)}


def _objective_losses(log, objective):
    """{update: loss} of the train_inner records that report ``objective``'s loss."""
    return dict(train_log.train_losses(log, f"{objective}_loss"))


def _state(path):
    return encoder_state.load(path)


def _ledger(path):
    return _state(path)["task_state"][LEDGER_STATE_KEY]


def test_both_losses_are_logged_separately_and_fall(smoke, data_bin):
    _, log = smoke(NAME)
    mlm, denoising = _objective_losses(log, MLM), _objective_losses(log, DENOISING)
    updates = max(u for u, _ in train_losses(log))
    # the default schedule: every sixth update is MLM (log lines count from 1)
    assert sorted(mlm) == list(range(6, updates + 1, 6)) and len(mlm) >= 3
    assert sorted(denoising) == sorted(set(range(1, updates + 1)) - set(mlm))
    for losses in (mlm, denoising):
        first, last = losses[min(losses)], losses[max(losses)]
        assert last < first - 0.3, losses
    # validation computes both on every language
    langs = sorted(p.name for p in (data_bin / "shard0").iterdir() if p.is_dir())
    for lang in langs:
        last = train_log.per_update(log, f"valid_{lang}")[updates]
        assert {f"valid_{lang}_{o}_loss" for o in (MLM, DENOISING)} <= set(last), last


def test_the_ledger_equals_the_prediction_for_each_objectives_tokens(smoke):
    save_dir, log = smoke(NAME)
    mlm = set(_objective_losses(log, MLM))
    lines = {u: (int(r["wpb"]), r["tu"]) for u, r in train_log.per_update(log).items()}
    assert sorted(lines) == list(range(1, max(lines) + 1))
    expected, seen = 0.0, {MLM: [0, 0], DENOISING: [0, 0]}
    for update in sorted(lines):
        tokens, tu = lines[update]
        objective = MLM if update in mlm else DENOISING
        expected += training_units(tokens, *LAYERS[objective])
        seen[objective][0] += 1
        seen[objective][1] += tokens
        assert tu == pytest.approx(expected, rel=1e-4)  # the live log, update by update
    ledger = _ledger(save_dir / "checkpoint_last.pt")
    assert ledger["tu"] == pytest.approx(expected, rel=1e-6)
    for objective, (updates, tokens) in seen.items():
        entry = ledger["objectives"][objective]
        assert (entry["updates"], entry["tokens"]) == (updates, tokens)
        assert entry["tu"] == pytest.approx(training_units(tokens, *LAYERS[objective]))
    assert (
        seen[MLM][0] == planned_updates(max(lines), "alternate", recipe3.MLM_SHARE)[MLM]
    )
    # an MLM-only update costs the encoder alone: half a denoising update per token
    per_token = {o: ledger["objectives"][o]["tu"] / seen[o][1] for o in seen}
    assert per_token[MLM] == pytest.approx(per_token[DENOISING] / 2)
    flops = {o: ledger["objectives"][o]["flops"] / seen[o][1] for o in seen}
    assert flops[MLM] < flops[DENOISING] / 2  # no decoder, the MLM head on 15%


def test_the_run_writes_its_two_models(smoke, data_bin, tmp_path):
    save_dir, _ = smoke(NAME)
    joint = _state(save_dir / "checkpoint_last.pt")
    assert encoder_state.kind(joint) == "joint"
    weights = joint["model"]
    encoder, seq2seq = _state(save_dir / ENCODER_VIEW), _state(save_dir / SEQ2SEQ_VIEW)
    # the encoder: roberta_12e with the MLM head, tied as trained
    assert encoder_state.kind(encoder) == "mlm"
    args = encoder_state.model_args(encoder)
    assert args.arch == "roberta_12e" and args.untie_weights_roberta is False
    mapped = {
        k.replace("encoder.sentence_encoder.", "encoder.", 1).replace(
            "encoder.lm_head.", "mlm_head.", 1
        ): v
        for k, v in encoder["model"].items()
    }
    assert mapped.keys() == {
        k for k in weights if k.startswith(("encoder.", "mlm_head."))
    }
    assert all(torch.equal(v, weights[k]) for k, v in mapped.items())
    embed = encoder["model"]["encoder.sentence_encoder.embed_tokens.weight"]
    assert torch.equal(encoder["model"]["encoder.lm_head.weight"], embed)
    # the seq2seq model: bart_12e12d, everything but the head
    assert encoder_state.kind(seq2seq) == "seq2seq"
    assert encoder_state.model_args(seq2seq).arch == "bart_12e12d"
    assert seq2seq["model"].keys() == {
        k for k in weights if not k.startswith("mlm_head.")
    }
    assert all(torch.equal(v, weights[k]) for k, v in seq2seq["model"].items())
    # both carry the run's ledger and update count: recipes-cost reads them as the run
    proc = python_module(
        "fairseq_recipes.cost.cli",
        "--format",
        "json",
        "--checkpoints",
        save_dir / "checkpoint_last.pt",
        save_dir / ENCODER_VIEW,
        save_dir / SEQ2SEQ_VIEW,
    )
    rows = json.loads(proc.stdout)
    assert len({(r["updates"], r["tu"], r["tokens"]) for r in rows}) == 1
    # fairseq-generate decodes the seq2seq model as it decodes bart-12e12d's
    hyps, refs = generate(data_bin / "shard0", save_dir / SEQ2SEQ_VIEW)
    assert hyps and len(hyps) == len(refs)
    # the joint checkpoint itself is pointed at them
    proc = python_module(
        "fairseq_recipes.export.hf_export",
        "--checkpoint",
        save_dir / "checkpoint_last.pt",
        "--output",
        tmp_path / "hf",
        check=False,
    )
    assert proc.returncode == 2 and not (tmp_path / "hf").exists()
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "recipe 3's joint training checkpoint holds two models; use the "
            "encoder_last.pt or seq2seq_last.pt that its run wrote beside it"
        )
    )


def _joint_model(save_dir):
    from fairseq import checkpoint_utils

    (model,), _ = checkpoint_utils.load_model_ensemble(
        [str(save_dir / "checkpoint_last.pt")]
    )
    return model.eval()


def _panx(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_both_models_fine_tune_and_export(
    smoke, data_bin, mtop, raw_corpus, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    save_dir, _ = smoke(NAME)
    common = [
        "--data",
        data_bin,
        "--seeds",
        "1",
        "--cpu",
        "--max-updates",
        "4",
        "--batch-size",
        "16",
        "--warmup-updates",
        "2",
        "--peak-lr",
        "1e-3",
    ]
    # the encoder: an encoder task (WikiANN's format)
    words = ["Ada", "met", "Bob", "in", "Paris"]
    tags = {"Ada": "B-PER", "Bob": "B-PER", "Paris": "B-LOC"}
    sentence = [f"en:{w}\t{tags.get(w, 'O')}" for w in words] + [""]
    panx = _panx(tmp_path / "panx", sentence * 32)
    python_module(
        "fairseq_recipes.eval.finetune",
        "--checkpoint",
        save_dir / ENCODER_VIEW,
        "--evaluation",
        "wikiann",
        "--train",
        panx,
        "--valid",
        panx,
        "--test",
        f"en={panx}",
        "--output",
        tmp_path / "wikiann",
        *common,
    )
    metrics = json.loads((tmp_path / "wikiann" / "seed1" / "metrics.json").read_text())
    assert math.isfinite(metrics["en"])
    # the seq2seq model: mTOP, decoded by fairseq-generate
    python_module(
        "fairseq_recipes.eval.finetune",
        "--checkpoint",
        save_dir / SEQ2SEQ_VIEW,
        "--evaluation",
        "mtop",
        "--train",
        mtop / "en" / "train.txt",
        "--valid",
        mtop / "en" / "eval.txt",
        "--test",
        f"en={mtop / 'en' / 'test.txt'}",
        "--output",
        tmp_path / "mtop",
        "--max-source-tokens",
        "128",
        "--max-target-tokens",
        "64",
        *common,
    )
    metrics = json.loads((tmp_path / "mtop" / "seed1" / "metrics.json").read_text())
    assert metrics["metric"] == "sciem" and math.isfinite(metrics["en"])
    assert (tmp_path / "mtop" / "seed1" / "generate-en.txt").exists()
    # both export to transformers and compute what the joint model computes
    for view in (ENCODER_VIEW, SEQ2SEQ_VIEW):
        python_module(
            "fairseq_recipes.export.hf_export",
            "--checkpoint",
            save_dir / view,
            "--output",
            tmp_path / view,
        )
    joint = _joint_model(save_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / ENCODER_VIEW)
    texts = [
        line[:200]
        for path in sorted(raw_corpus.glob("*.txt"))[:4]
        for line in path.read_text(encoding="utf-8").splitlines()[:2]
        if line.strip()
    ]
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"].bool()
    assert (~mask).any()
    mlm = transformers.AutoModelForMaskedLM.from_pretrained(
        tmp_path / ENCODER_VIEW
    ).eval()
    s2s = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / SEQ2SEQ_VIEW)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    prev = torch.cat([torch.full_like(ids[:, :1], eos), ids[:, :-1]], dim=1)
    prev = prev.masked_fill(~torch.cat([mask[:, :1], mask[:, :-1]], dim=1), pad)
    with torch.no_grad():
        for ours, theirs in [
            (mlm(**batch).logits, joint(ids, None)[0]),
            (
                s2s.eval()(**batch, decoder_input_ids=prev).logits,
                joint(ids, mask.sum(1), prev)[0],
            ),
        ]:
            assert (ours[mask] - theirs[mask]).abs().max().item() < 1e-4
            assert theirs[mask].std().item() > 1e-2


def test_a_resumed_run_equals_the_uninterrupted_one(data_bin, tmp_path):
    """The sampled schedule (MLM drawn per update), interrupted after update 5 of 8."""
    # one thread: MKL may otherwise change its thread count with the machine's load, and
    # with it the order of its sums (one run under a load of 14 on 2 cores differed)
    env = dict(
        OBJECTIVE_SCHEDULE="sample",
        MLM_SHARE=0.5,
        UPDATES=8,
        LOG_INTERVAL=1,
        SAVE_INTERVAL=4,
        OMP_NUM_THREADS=1,
        MKL_NUM_THREADS=1,
    )
    subset = ["--valid-subset", "valid_en"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    train_script(NAME, data_bin, whole, *subset, **env)
    train_script(NAME, data_bin, part, *subset, "--max-update", 5, **env)
    proc = train_script(NAME, data_bin, part, *subset, **env)
    assert "@ 5 updates)" in proc.stdout + proc.stderr
    ours, theirs = _state(part / "checkpoint_last.pt"), _state(
        whole / "checkpoint_last.pt"
    )
    assert ours["model"].keys() == theirs["model"].keys()
    differing = {
        k: (v - theirs["model"][k]).abs().max().item()
        for k, v in ours["model"].items()
        if not torch.equal(v, theirs["model"][k])
    }
    assert differing == {}, max(differing.values())
    ledger = ours["task_state"][LEDGER_STATE_KEY]
    assert ledger == theirs["task_state"][LEDGER_STATE_KEY]
    assert all(ledger["objectives"][o]["updates"] > 0 for o in (MLM, DENOISING))
    for view in (ENCODER_VIEW, SEQ2SEQ_VIEW):  # and so are the two models
        a, b = _state(part / view)["model"], _state(whole / view)["model"]
        assert all(torch.equal(v, b[k]) for k, v in a.items())
    # resuming with another schedule is refused before anything is trained or written
    before = (part / "checkpoint_last.pt").stat().st_mtime_ns
    proc = train_script(
        NAME,
        data_bin,
        part,
        *subset,
        check=False,
        **{**env, "UPDATES": 10, "MLM_SHARE": 0.25},
    )
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0 and len(errors) == 1 and "Traceback" not in out
    assert "mlm_share=1/2" in errors[0] and "mlm_share=1/4" in errors[0]
    assert (part / "checkpoint_last.pt").stat().st_mtime_ns == before
