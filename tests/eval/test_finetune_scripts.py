"""The fine-tuning scripts in smoke mode on the real samples of ../shared/data: every
paper language predicted and scored, English trained and validated on."""

import json
import sys

import pytest
from helpers import ROOT, run, shared_data

from fairseq_recipes import paper


@pytest.mark.parametrize("task, folder", [("wikiann", "wikiann"), ("udpos", "ud")])
def test_script_runs_every_paper_language(smoke, data_bin, tmp_path, task, folder):
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is not present")
    out = tmp_path / "out"
    env = {"ENCODER": smoke("roberta-12e")[0] / "checkpoint_last.pt", "DATA": data_bin,
           "EVAL_DATA": root / folder, "OUTPUT": out, "SEEDS": 1, "SMOKE": 1,
           "PYTHON": sys.executable,
           # the samples' English training set lacks labels other languages use
           "MAP_UNKNOWN_LABELS_TO": "O" if task == "wikiann" else "X"}  # fmt: skip
    run(["bash", ROOT / "train_scripts" / f"finetune-{task}.sh"],
        env={k: str(v) for k, v in env.items()})  # fmt: skip
    metrics = json.loads((out / "seed1" / "metrics.json").read_text())
    assert sorted(metrics["languages"]) == sorted(paper.LANGUAGES)
    assert all(0 <= m["f1"] <= 100 for m in metrics["languages"].values())
    assert (out / "finetune.log").read_text().count("[finetune") == 1


def test_script_without_encoder_is_a_one_line_error(tmp_path):
    proc = run(["bash", ROOT / "train_scripts" / "finetune-xnli.sh"],
               env={"ENCODER": "", "PYTHON": sys.executable}, check=False)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: set ENCODER to the checkpoint to fine-tune"
