"""The README's main command at its smallest setting (configs/smoke.toml): the paper's ten
models and recipe 3's joint one, every fine-tuning evaluation, a filled report; then a
second invocation trains nothing."""

import csv
import math
import os
import re

import pytest
from helpers import ROOT, run

from fairseq_recipes import recipe3
from fairseq_recipes.pipeline import main as pipeline
from fairseq_recipes.recipes import STAGES

ENCODERS = [m for m in STAGES if pipeline.evaluated_tasks(m, ["xnli"])]
SEQ2SEQ = [m for m in STAGES if STAGES[m].decoder_layers > 0]
FIGURES = [
    "cost",
    "loss",
    "valid_loss",
    "xnli",
    "matis",
    "wikiann",
    "udpos",
    "mtop",
    "xsum",
]
PNG = b"\x89PNG\r\n\x1a\n"


def _main(work, *args):
    env = {
        **os.environ,
        "CONFIG": str(ROOT / "configs" / "smoke.toml"),
        "WORK": str(work),
    }
    return run([str(ROOT / "tools" / "run_main.sh"), *args], env=env, timeout=1800)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("main") / "work"
    first = _main(work)
    stamps = {p: p.stat().st_mtime_ns for p in work.rglob("*.pt")}
    stamps.update({p: p.stat().st_mtime_ns for p in work.rglob("metrics.json")})
    second = _main(work)
    return work, first.stdout, second.stdout, stamps


def _table(report: str, heading: str):
    """(header, rows) of the first Markdown table after ``heading``."""
    lines = report.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return block[0], block[2:]


def _names(rows):
    """The rows' model names; recipe 3's (not in the paper) is marked, and only it."""
    marked = [r[0] for r in rows if r[0].endswith(" †")]
    assert marked == [f"{recipe3.NAME} †"], marked
    return [r[0].removesuffix(" †") for r in rows]


def test_every_table_of_the_report_is_filled(runs):
    work, first, _, _ = runs
    report = (work / "results" / "report.md").read_text()
    assert f"report: {work / 'results' / 'report.md'}" in first
    header, rows = _table(report, "## Table 1")
    assert _names(rows) == list(STAGES)
    assert all(cell for row in rows for cell in row), rows
    header, rows = _table(report, "## Table 2")
    assert _names(rows) == ENCODERS and len(header) == 9
    assert all(cell for row in rows for cell in row), rows
    header, rows = _table(report, "## Table 3")
    assert _names(rows) == SEQ2SEQ and len(header) == 6
    assert all(cell for row in rows for cell in row), rows
    assert report.count("† Not in the paper: bart-12e12d-joint") >= 3
    for task, metric in [
        ("xnli", "accuracy"),
        ("matis", "slot_f1"),
        ("wikiann", "f1"),
        ("udpos", "f1"),
        ("mtop", "sciem"),
    ]:
        header, rows = _table(report, f"### {task} {metric}")
        assert header[1:] == ["en", "de", "hi"]
        assert all(cell for row in rows for cell in row), (task, rows)


def test_every_number_is_finite(runs):
    work = runs[0]
    report = (work / "results" / "report.md").read_text()
    numbers = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", report)
    assert len(numbers) > 200 and all(math.isfinite(float(n)) for n in numbers)
    assert not re.search(r"\b(nan|inf)\b", report, flags=re.I)
    # every model of the three findings ran: each has its section and a verdict
    findings = report.split("## The paper's findings in these runs", 1)[1]
    for number in (1, 2, 3):
        assert re.search(rf"### {number}\. .*\n\n\*\*\w", findings)
    for name in ["table2", "table3", "languages"]:
        with open(work / "results" / f"{name}.csv") as f:
            rows = list(csv.DictReader(f))
        assert rows and all(math.isfinite(float(r["mean"])) for r in rows)


def test_every_figure_exists_and_is_a_png(runs):
    import matplotlib.image

    work = runs[0]
    report = (work / "results" / "report.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert sorted(p[:-4] for p in linked) == sorted(FIGURES)
    for name in linked:
        path = work / "results" / name
        assert path.read_bytes()[:8] == PNG
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_the_pre_training_chain_and_evaluations_all_ran(runs):
    work, first, _, _ = runs
    for model in STAGES:
        assert f"done pretrain {model}" in first
        assert (work / "checkpoints" / model / "checkpoint_last.pt").exists()
    # recipe 2 started from roberta-12e, recipe 1 from bart-12e12d
    assert (
        "warm start"
        in (work / "checkpoints" / "2stage-bart-12e12d" / "train.log").read_text()
    )
    assert (work / "checkpoints" / "bart-12e12d+mlm" / "encoder_init.pt").exists()
    # recipe 3's one run gave both models, each evaluated from its own checkpoint
    joint = work / "checkpoints" / recipe3.NAME
    assert (joint / "encoder_last.pt").exists() and (joint / "seq2seq_last.pt").exists()
    log = (work / "results" / recipe3.NAME / "xnli" / "seed1" / "train.log").read_text()
    assert str(joint / "encoder_last.pt") in log
    log = (work / "results" / recipe3.NAME / "mtop" / "seed1" / "train.log").read_text()
    assert str(joint / "seq2seq_last.pt") in log
    evaluated = len(ENCODERS) * 4 + len(SEQ2SEQ) * 2
    assert len(list(work.glob("results/*/*/seed1/metrics.json"))) == evaluated


def test_a_second_invocation_trains_nothing(runs):
    work, _, second, stamps = runs
    assert "started" not in second and "done " not in second
    assert (
        second.count("reused:") == 3 + len(STAGES) + len(ENCODERS) * 4 + len(SEQ2SEQ) * 2
    )
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert f"report: {work / 'results' / 'report.md'}" in second
