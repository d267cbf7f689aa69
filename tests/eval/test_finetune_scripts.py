"""The fine-tuning scripts in smoke mode on the real samples of ../shared/data: every
paper language predicted and scored, English trained and validated on."""

import json
import sys

import pytest
from helpers import ROOT, run, shared_data, ud_release

from fairseq_recipes import paper


@pytest.mark.parametrize("task, folder", [("wikiann", "wikiann"), ("udpos", "ud")])
def test_script_runs_every_paper_language(smoke, data_bin, tmp_path, task, folder):
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is not present")
    out = tmp_path / "out"
    # UDPOS: a release with a second, test-only English treebank and an Arabic one
    # without word forms (helpers.ud_release), merged as XTREME merges them
    eval_data = (
        ud_release(tmp_path / "ud", root / "ud") if task == "udpos" else root / folder
    )
    env = {
        "CHECKPOINT": smoke("roberta-12e")[0] / "checkpoint_last.pt",
        "DATA": data_bin,
        "EVAL_DATA": eval_data,
        "OUTPUT": out,
        "SEEDS": 1,
        "SMOKE": 1,
        "PYTHON": sys.executable,
        # the samples' English training set lacks labels other languages use
        "MAP_UNKNOWN_LABELS_TO": "O" if task == "wikiann" else "X",
    }
    run(
        ["bash", ROOT / "train_scripts" / f"finetune-{task}.sh"],
        env={k: str(v) for k, v in env.items()},
    )
    metrics = json.loads((out / "seed1" / "metrics.json").read_text())
    assert sorted(metrics["languages"]) == sorted(paper.LANGUAGES)
    assert all(0 <= m["f1"] <= 100 for m in metrics["languages"].values())
    log = (out / "finetune.log").read_text()
    assert log.count("[finetune") == 1
    if task == "udpos":
        predicted = (out / "seed1" / "predictions" / "en.tsv").read_text()
        assert predicted.count("\n\n") == 800  # English-Copy's 400 and EWT's 400
        assert "ar_formless-ud-test.conllu: no word forms" in log


def test_script_without_checkpoint_is_a_one_line_error(tmp_path):
    proc = run(
        ["bash", ROOT / "train_scripts" / "finetune-xnli.sh"],
        env={"CHECKPOINT": "", "PYTHON": sys.executable},
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: set CHECKPOINT to the checkpoint to fine-tune"


def test_seq2seq_scripts_run_in_smoke_mode(smoke, data_bin, tmp_path):
    """finetune-mtop.sh on the paper's mTOP languages (mTOP-format files the test
    writes), finetune-xsum.sh on the real XSUM samples when present."""
    from helpers import write_mtop

    words = [f"w{i}" for i in range(30)]
    mtop = write_mtop(
        tmp_path / "mtop",
        words,
        langs=("en", "de", "es", "fr", "hi"),
        sizes=(("train", 32), ("eval", 8), ("test", 8)),
    )
    bart = smoke("bart-12e2d")[0] / "checkpoint_last.pt"
    base = {
        "CHECKPOINT": bart,
        "DATA": data_bin,
        "SEEDS": 1,
        "SMOKE": 1,
        "PYTHON": sys.executable,
    }
    env = {**base, "EVAL_DATA": mtop, "OUTPUT": tmp_path / "out-mtop"}
    run(
        ["bash", ROOT / "train_scripts" / "finetune-mtop.sh"],
        env={k: str(v) for k, v in env.items()},
    )
    metrics = json.loads((tmp_path / "out-mtop" / "seed1" / "metrics.json").read_text())
    # the paper's languages that mTOP covers: Thai is not one of them
    assert sorted(metrics["languages"]) == ["de", "en", "es", "fr", "hi"]
    assert all(0 <= m["sciem"] <= 100 for m in metrics["languages"].values())
    root = shared_data()
    if root is None:
        return
    env = {
        **base,
        "EVAL_DATA": root / "xsum" / "xsum-extracts-from-downloads_Filtered",
        "OUTPUT": tmp_path / "out-xsum",
    }
    run(
        ["bash", ROOT / "train_scripts" / "finetune-xsum.sh"],
        env={k: str(v) for k, v in env.items()},
    )
    metrics = json.loads((tmp_path / "out-xsum" / "seed1" / "metrics.json").read_text())
    assert list(metrics["languages"]) == ["en"]
    assert set(metrics["languages"]["en"]) == {"rouge1", "rouge2", "rougeL"}
