"""The rehearsal's configuration, pre-flight check, per-stage figures, tidying and bill
(``configs/rehearsal.toml``, ``fairseq_recipes/pipeline/rehearsal.py``). The rehearsal
itself (``make rehearsal``) is a command that prints figures, not a test."""

import json
import re
import shutil

import pytest
import torch
from helpers import ROOT, run

from fairseq_recipes import paper
from fairseq_recipes.cost.bill import bill, formula_rates, paper_flops
from fairseq_recipes.cost.gpus import GPU_PEAK_FLOPS
from fairseq_recipes.cost.table1 import Width, both_models_cost, model_cost
from fairseq_recipes.errors import RecipesError
from fairseq_recipes.pipeline import config
from fairseq_recipes.pipeline import main as pipeline
from fairseq_recipes.pipeline import rehearsal
from fairseq_recipes.pipeline.runner import Job
from fairseq_recipes.recipes import STAGES

REHEARSAL = config.ROOT / "configs" / "rehearsal.toml"


def _updates(cfg, model, data):
    """(updates, frozen updates) the train script runs under the configuration."""
    env = {
        **cfg.pretrain_env(model),
        "DRY_RUN": "1",
        "DATA": str(data),
        "SAVE_DIR": "/tmp/x",
    }
    out = run(["bash", ROOT / "train_scripts" / f"{model}.sh"], env=env, check=False)
    words = out.stdout.split()

    def value(flag):
        return int(words[words.index(flag) + 1]) if flag in words else 0

    return value("--max-update"), value("--freeze-encoder-updates")


def test_the_rehearsal_is_the_paper_but_for_updates_tokens_and_data(data_bin):
    cfg = config.load(str(REHEARSAL))
    assert cfg.preprocess["dictionary_size"] == 250_002 and cfg.rehearsal is not None
    for model in STAGES:
        env = cfg.pretrain_env(model)
        assert env["SMOKE"] == "0" and env["TOKENS_PER_UPDATE"] == "1024"
        # shapes, blocks, dropout, learning rates and schedules: the scripts' (paper's)
        assert not {
            "EMBED_DIM",
            "FFN_DIM",
            "HEADS",
            "TOKENS_PER_SAMPLE",
            "DROPOUT",
            "PEAK_LR",
            "END_LR",
            "WARMUP",
            "ADAM_BETAS",
            "WEIGHT_DECAY",
            "FREEZE_ENCODER_UPDATES",
            "UPDATES",
        } & set(env)
    counts = {
        m: _updates(cfg, m, data_bin)
        for m in ("roberta-12e", "bart-12e12d+mlm", "2stage-bart-12e12d-unfrz")
    }
    assert counts["roberta-12e"][0] == 3 and counts["bart-12e12d+mlm"][0] == 1
    updates, frozen = counts["2stage-bart-12e12d-unfrz"]
    assert 0 < frozen < updates  # it crosses its switch
    # the evaluations: the paper's learning rates and schedules, fewer updates
    assert "--peak-lr" not in cfg.finetune_options("xnli")
    assert "--discard-checkpoints" in cfg.finetune_options("mtop")


@pytest.mark.parametrize(
    "table, message",
    [
        (
            'resume = "bart-12e2d"\nresume_after_update = 2',
            "rehearsal.resume_after_update: 2 is not an update bart-12e2d saves",
        ),
        ('resume = "nope"', "rehearsal.resume: 'nope' is not one of the models"),
        (
            'export = ["2stage-bart-12e12d-attn-f"]',
            "attention fusion has no transformers class",
        ),
        ("mfu = 0", "rehearsal.mfu: 0: a model-FLOP utilisation in (0, 1]"),
        ("mfu = true", "rehearsal.mfu: expected a number, got True"),
        ("colour = 1", "rehearsal.colour: unknown setting"),
    ],
)
def test_bad_rehearsal_settings_are_one_line_errors(tmp_path, table, message):
    path = tmp_path / "r.toml"
    path.write_text(f"[rehearsal]\n{table}\n")
    with pytest.raises(RecipesError, match=re.escape(message)):
        config.load(str(path))


@pytest.mark.parametrize("short", ["memory", "disk"])
def test_a_machine_short_of_memory_or_disk_stops_before_training_with_one_line(
    tmp_path, monkeypatch, capsys, short
):
    monkeypatch.setattr(
        rehearsal, "available_memory", lambda: (4 if short == "memory" else 500) * 1e9
    )
    monkeypatch.setattr(
        rehearsal, "free_disk", lambda path: (3 if short == "disk" else 500) * 1e9
    )
    work = tmp_path / "work"
    with pytest.raises(SystemExit) as exit:
        pipeline.cli_main(["--config", str(REHEARSAL), "--work-dir", str(work)])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: not enough " + short)
    if short == "memory":
        assert (
            "pretrain 2stage-bart-12e12d-unfrz needs about" in err
            and "4.0 GB available" in err
        )
    else:
        assert "3.0 GB are free" in err
    assert not work.exists()  # nothing written


#: peak memory the rehearsal measured (configs/rehearsal.toml, alone or not: memory does
#: not depend on the load)
MEASURED = {"roberta-12e": 11.81e9, "bart-12e12d": 16.86e9}


@pytest.mark.parametrize("model", list(MEASURED))
def test_the_memory_estimate_covers_what_the_rehearsal_measured(model):
    """The pre-flight estimate is not below a measurement, nor far above it."""
    plan = pipeline.Plan(config.load(str(REHEARSAL)))
    shape = rehearsal._shape(plan, model, 250_002)
    estimate = rehearsal.stage_memory(shape, STAGES[model], 512)
    assert MEASURED[model] <= estimate <= 1.1 * MEASURED[model]


def _inner(update, flops, wpb=1024, wall=7, **losses):
    """A train_inner line of fairseq's JSON log (numbers as strings, as fairseq logs)."""
    record = {
        "epoch": 1,
        "update": update / 9,
        "loss": "9.1",
        **{k: str(v) for k, v in losses.items()},
        "wpb": str(wpb),
        "num_updates": str(update),
        "lr": "0.0001",
        "tu": "1e-08",
        "flops": f"{flops:g}",
        "train_wall": str(wall),
        "wall": "9",
    }
    return f"2026-01-01 00:00:00 | INFO | train_inner | {json.dumps(record)}"


def test_phase_figures_split_the_ledger_by_freeze_state_from_the_per_update_log():
    log = "\n".join(
        [
            _inner(1, 1e12),
            _inner(2, 2e12, wall=5),
            _inner(2, 2e12, wall=5),
            _inner(3, 3.5e12, wpb=1000, wall=9),
        ]
    )
    figures = rehearsal.phase_figures(rehearsal.per_update(log), freeze=2, seq2seq=True)
    frozen, unfrozen = figures["phases"]["frozen"], figures["phases"]["unfrozen"]
    assert (frozen["updates"], frozen["tokens"], frozen["flops"]) == (2, 2048, 2e12)
    assert (unfrozen["updates"], unfrozen["tokens"], unfrozen["flops"]) == (
        1,
        1000,
        1.5e12,
    )
    assert frozen["flops_per_1m_tokens"] == pytest.approx(2e12 / 2048 * 1e6)
    assert (
        figures["seconds_per_update"] == [7, 5, 9] and figures["logged_flops"] == 3.5e12
    )
    mlm = rehearsal.phase_figures(rehearsal.per_update(log), freeze=0, seq2seq=False)
    assert list(mlm["phases"]) == ["unfrozen"]
    with pytest.raises(RecipesError, match="update 2 is not in the log"):
        rehearsal.phase_figures(
            rehearsal.per_update(_inner(1, 1) + "\n" + _inner(3, 2)), 0, False
        )


def test_phase_figures_split_recipe_3s_updates_by_objective():
    """An MLM update of the joint run costs the encoder alone: its own rate."""
    mlm = _inner(1, 1e12, mlm_loss=9.0)
    both = _inner(2, 5e12, denoising_loss=8.0)
    third = _inner(3, 6e12, mlm_loss=8.9)
    updates = rehearsal.per_update("\n".join([mlm, both, third]))
    phases = rehearsal.phase_figures(updates, freeze=0, seq2seq=True)["phases"]
    assert {n: (p["updates"], p["flops"]) for n, p in phases.items()} == {
        "mlm": (2, 2e12),
        "denoising": (1, 4e12),
    }
    assert rehearsal.phase_key("bart-12e12d-joint", "mlm") == (
        "bart-12e12d-joint",
        False,
        "mlm",
    )
    assert formula_rates()[("bart-12e12d-joint", False, "mlm")] < (
        formula_rates()[("bart-12e12d-joint", False, "denoising")]
    )


def test_the_bill_prices_the_ledger_rates_at_the_paper_scale():
    width = Width(vocab=250_002)
    rates = formula_rates(width)
    b = bill(rates, mfu=0.4)
    for row in b["models"]:  # the formula's rates give Table 1's FLOPs
        assert row["flops"] == pytest.approx(model_cost(row["model"], width)["flops"])
        for gpu, peak in GPU_PEAK_FLOPS.items():
            assert row["gpu_hours"][gpu] == pytest.approx(
                row["flops"] / (peak * 0.4) / 3600
            )
    table = {w["way"]: w for w in both_models_cost(width)}
    for way in b["ways"]:
        assert way["flops"] == pytest.approx(table[way["way"]]["flops"])
        assert way["ratio"] == pytest.approx(1 - table[way["way"]]["flops_saving"])
    assert b["ways"][0]["gpu_hours"]["A100"] == pytest.approx(
        b["ways"][0]["flops"] / (312e12 * 0.4) / 3600
    )
    # half the utilisation, twice the hours; the ratios between recipes are the FLOPs'
    slow = bill(rates, mfu=0.2)
    assert slow["models"][0]["gpu_hours"]["H100"] == pytest.approx(
        2 * b["models"][0]["gpu_hours"]["H100"]
    )
    assert [w["ratio"] for w in slow["ways"]] == pytest.approx(
        [w["ratio"] for w in b["ways"]]
    )
    # a stage without a measured rate leaves its rows empty, not zero
    partial = {k: v for k, v in rates.items() if k[0] != "bart-12e12d"}
    rows = {m["model"]: m for m in bill(partial)["models"]}
    assert (
        rows["bart-12e12d+mlm"]["flops"] is None
        and rows["roberta-12e"]["flops"] is not None
    )
    assert paper_flops(["roberta-12e"], rates) == pytest.approx(
        paper.PRETRAIN_UPDATES * rates[("roberta-12e", False, "")]
    )


def test_recipes_cost_prints_the_bill():
    out = run(
        [
            ROOT / ".venv" / "bin" / "python",
            "-m",
            "fairseq_recipes.cost.cli",
            "--bill",
            "--mfu",
            "0.5",
        ]
    ).stdout
    assert (
        "MFU 50% (assumed)" in out and "A100 GPU-hours" in out and "H100 GPU-hours" in out
    )
    roberta = next(line for line in out.splitlines() if line.startswith("roberta-12e"))
    hours = 6.06e20 / (312e12 * 0.5) / 3600
    assert f"{hours:,.0f}"[:3] in roberta


def test_finish_stage_records_a_smoke_stage_and_tidies_what_no_later_stage_reads(
    smoke, tmp_path
):
    """The smoke unfreezing run (18 updates, switch at 10, saves at 5, 10, 15, logged
    every update): its figures, then a save directory with only the weights."""
    source = smoke("2stage-bart-12e12d-unfrz")[0]
    save_dir = tmp_path / "2stage-bart-12e12d-unfrz"
    shutil.copytree(source, save_dir)
    job = Job("pretrain x", save_dir / "main-job.log", save_dir / ".done")
    job.resources.write_text(
        json.dumps(
            dict(seconds=1.0, peak_rss=2e9, peak_tree=2.1e9, peak_disk=3e9, runs=1)
        )
    )
    before = torch.load(str(save_dir / "checkpoint_last.pt"), weights_only=True)
    rehearsal.finish_stage(job, tidy=True)
    record = json.loads((save_dir / rehearsal.STAGE_JSON).read_text())
    frozen, unfrozen = record["phases"]["frozen"], record["phases"]["unfrozen"]
    assert (frozen["updates"], unfrozen["updates"]) == (10, 8)
    assert frozen["flops"] + unfrozen["flops"] == pytest.approx(
        record["ledger"]["flops"], rel=1e-5
    )
    assert frozen["flops_per_1m_tokens"] < 0.8 * unfrozen["flops_per_1m_tokens"]
    for phase in (frozen, unfrozen):  # the ledger prices what the formula predicts
        assert phase["flops_per_1m_tokens"] == pytest.approx(
            phase["formula_per_1m_tokens"], rel=0.05
        )
    assert (
        record["parameters"] == record["formula_parameters"]
        and record["peak_tree"] == 2.1e9
    )
    assert record["checkpoint_bytes"] == (source / "checkpoint_last.pt").stat().st_size
    # tidied: the last checkpoint's weights, configuration and ledger, nothing else
    assert sorted(p.name for p in save_dir.glob("*.pt")) == ["checkpoint_last.pt"]
    after = torch.load(str(save_dir / "checkpoint_last.pt"), weights_only=True)
    assert "last_optimizer_state" not in after and "last_optimizer_state" in before
    assert set(after) == set(before) - {"last_optimizer_state"}
    assert all(torch.equal(after["model"][k], v) for k, v in before["model"].items())
    assert after["task_state"] == before["task_state"]
    from fairseq import checkpoint_utils  # what the evaluations and the export load

    (model,), _ = checkpoint_utils.load_model_ensemble(
        [str(save_dir / "checkpoint_last.pt")]
    )
    assert sum(p.numel() for p in model.parameters()) == record["parameters"]
    rehearsal.finish_stage(job, tidy=True)  # a rerun after a crash only tidies again
    assert json.loads((save_dir / rehearsal.STAGE_JSON).read_text()) == record
