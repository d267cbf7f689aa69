"""Pre-training seeds (the paper's own stated limitation: it varied fine-tuning seeds
only): the plan chains each recipe seed by seed, and two pre-training seeds of two models
run through the main job into the report."""

import os
import re

import torch
from helpers import ROOT, run

from fairseq_recipes.checkpoints import encoder_state
from fairseq_recipes.pipeline import config
from fairseq_recipes.pipeline import main as pipeline

MODELS = ["roberta-12e", "2stage-bart-12e12d"]


def _plan(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return pipeline.Plan(config.load(str(path)))


def test_the_plan_chains_each_recipe_seed_by_seed(tmp_path):
    plan = _plan(
        tmp_path,
        f"extends_toy = true\npretrain_seeds = 3\nmodels = {MODELS}\n"
        '[evaluate]\nevaluations = ["wikiann", "mtop"]\n',
    )
    jobs = {job.name: job for job in plan.jobs("all")}
    work = plan.cfg.work
    for seed in (1, 2, 3):
        suffix, tree = (
            ("", "") if seed == 1 else (f" pretrain-seed{seed}", f"pretrain-seed{seed}")
        )
        mlm = jobs[f"pretrain roberta-12e{suffix}"]
        two_stage = jobs[f"pretrain 2stage-bart-12e12d{suffix}"]
        # seed k: SEED k (seed 1 keeps the scripts' default), its own save directory
        assert mlm.env.get("SEED") == (None if seed == 1 else str(seed))
        assert mlm.env["SAVE_DIR"] == str(work / "checkpoints" / tree / "roberta-12e")
        # recipe 2 of seed k starts from seed k's MLM encoder
        assert two_stage.env["INIT"] == mlm.env["SAVE_DIR"] + "/checkpoint_last.pt"
        assert f"pretrain roberta-12e{suffix}" in two_stage.after
        evaluate = jobs[f"evaluate 2stage-bart-12e12d mtop{suffix}"]
        assert evaluate.after[0] == f"pretrain 2stage-bart-12e12d{suffix}"
        argv = evaluate.args[0]
        assert (
            argv[argv.index("--checkpoint") + 1]
            == two_stage.env["SAVE_DIR"] + "/checkpoint_last.pt"
        )
        results = work / "results" / tree / "2stage-bart-12e12d" / "mtop"
        assert argv[argv.index("--output") + 1] == str(results)
    # 3 seeds x (2 pre-training + wikiann of roberta + mtop of the two-stage model)
    assert len([j for j in jobs if j.startswith(("pretrain", "evaluate"))]) == 3 * 4


def test_two_pretraining_seeds_of_two_models_reach_the_report(tmp_path):
    work = tmp_path / "work"
    cfg = tmp_path / "seeds.toml"
    cfg.write_text("pretrain_seeds = 2\n" + (ROOT / "configs" / "smoke.toml").read_text())
    env = {**os.environ, "CONFIG": str(cfg), "WORK": str(work)}
    out = run(
        [
            ROOT / "tools" / "run_main.sh",
            "--model",
            *MODELS,
            "--evaluation",
            "wikiann",
            "mtop",
        ],
        env=env,
        timeout=1500,
    ).stdout
    first = encoder_state.load(
        work / "checkpoints" / "roberta-12e" / "checkpoint_last.pt"
    )
    second = encoder_state.load(
        work / "checkpoints" / "pretrain-seed2" / "roberta-12e" / "checkpoint_last.pt"
    )
    assert (first["cfg"]["common"]["seed"], second["cfg"]["common"]["seed"]) == (1, 2)
    key = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert not torch.equal(first["model"][key], second["model"][key])
    log = (
        work / "checkpoints" / "pretrain-seed2" / "2stage-bart-12e12d" / "train.log"
    ).read_text()
    assert (
        str(
            work / "checkpoints" / "pretrain-seed2" / "roberta-12e" / "checkpoint_last.pt"
        )
        in log
    )
    assert "done pretrain 2stage-bart-12e12d pretrain-seed2" in out
    for tree in (work / "results", work / "results" / "pretrain-seed2"):
        assert (tree / "roberta-12e" / "wikiann" / "seed1" / "metrics.json").exists()
        assert (tree / "2stage-bart-12e12d" / "mtop" / "seed1" / "metrics.json").exists()
    report = (work / "results" / "report.md").read_text()
    # two pre-training seeds, one fine-tuning seed each: the spread over pre-training
    # seeds is known, the one over fine-tuning seeds is not
    row = next(
        line
        for line in report.splitlines()
        if line.startswith("| roberta-12e |") and " pt" in line
    )
    assert re.search(r"\| -?\d+\.\d ± \d+\.\d pt \|", row) and " ft" not in row
    assert "![seeds](seeds.png)" in report
    assert (work / "results" / "seeds.png").read_bytes()[:4] == b"\x89PNG"
