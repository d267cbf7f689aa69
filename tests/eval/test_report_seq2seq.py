"""recipes-report on hand-written seq2seq metrics (mTOP, XSUM): Table 3 as the paper marks
it, the mTOP per-language table (Table 9), CSV, charts, and the console script."""

import csv
import json
import sys
from pathlib import Path

import pytest
from helpers import python_module, run

from fairseq_recipes.eval.report import build_report

PNG = b"\x89PNG\r\n\x1a\n"
# model -> seed -> mTOP exact match per language (en, de, es, fr, hi)
MTOP = {
    "2stage-bart-12e12d": {
        1: (60.0, 40.0, 44.0, 42.0, 30.0),
        2: (62.0, 42.0, 46.0, 44.0, 32.0),
    },
    "bart-12e12d": {1: (58.0, 30.0, 34.0, 32.0, 20.0), 2: (58.0, 30.0, 34.0, 32.0, 20.0)},
    "mbart-12e12d": {
        1: (60.0, 45.0, 47.0, 46.0, 38.0),
        2: (64.0, 45.0, 47.0, 46.0, 38.0),
    },
}
# model -> seed -> XSUM (rouge1, rouge2, rougeL)
XSUM = {
    "2stage-bart-12e12d": {1: (38.0, 15.0, 30.0), 2: (40.0, 17.0, 32.0)},
    "bart-12e12d": {1: (37.0, 14.0, 29.0), 2: (37.0, 14.0, 29.0)},
    "mbart-12e12d": {1: (36.0, 16.0, 30.0), 2: (38.0, 16.0, 30.0)},
}


def _write(path, data):
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps(data))


def _mtop(path, seed, scores):
    langs = dict(zip(("en", "de", "es", "fr", "hi"), scores))
    _write(
        path,
        {
            "task": "mtop",
            "metric": "sciem",
            "en": langs["en"],
            "avg_0s": sum(scores[1:]) / 4,
            "languages": {lang: {"sciem": v} for lang, v in langs.items()},
            "seed": seed,
            "model": "checkpoints/checkpoint_best.pt",
        },
    )


def _xsum(path, seed, scores):
    rouge = dict(zip(("rouge1", "rouge2", "rougeL"), scores))
    _write(
        path,
        {
            "task": "xsum",
            "metric": "rougeL",
            "en": rouge["rougeL"],
            "avg_0s": None,
            "languages": {"en": rouge},
            "seed": seed,
            "model": "checkpoints/checkpoint_best.pt",
        },
    )


def _seq2seq_tree(root, tasks=("mtop", "xsum")):
    for task, scores, write in (("mtop", MTOP, _mtop), ("xsum", XSUM, _xsum)):
        if task in tasks:
            for model, seeds in scores.items():
                for seed, values in seeds.items():
                    write(root / model / task / f"seed{seed}", seed, values)
    return root


@pytest.fixture
def results(tmp_path):
    """The seq2seq runs plus one encoder run (WikiANN) of another model."""
    root = _seq2seq_tree(tmp_path / "results")
    _write(
        root / "roberta-12e" / "wikiann" / "seed1",
        {
            "task": "wikiann",
            "metric": "f1",
            "en": 80.0,
            "avg_0s": 60.0,
            "languages": {"en": {"f1": 80.0}, "de": {"f1": 60.0}},
        },
    )
    return root


HEADER = (
    "| Model | mtop sciem en | mtop sciem avg-0s | xsum rouge1 | xsum rouge2 | "
    "xsum rougeL |"
)


def test_table3_marks_nothing_within_the_noise_of_two_seeds(results, tmp_path):
    """Two seeds give a t-interval of +-12.7 standard deviations: the paper's marks on
    these means (mbart best on mTOP, 2stage on R-1/R-L) would be noise."""
    build_report(results, tmp_path / "report")
    table = (tmp_path / "report" / "table3.md").read_text().split("\n\n")[0]
    assert table.splitlines() == [
        HEADER,
        "|---|---|---|---|---|---|",
        "| 2stage-bart-12e12d | 61.0 ± 1.4 | 40.0 ± 1.4 | 39.0 ± 1.4 | 16.0 ± 1.4 "
        "| 31.0 ± 1.4 |",
        # two seeds that agree: a sample standard deviation of 0, not an unknown one
        "| bart-12e12d | 58.0 ± 0.0 | 29.0 ± 0.0 | 37.0 ± 0.0 | 14.0 ± 0.0 | 29.0 ± 0.0 |",
        "| mbart-12e12d | 62.0 ± 2.8 | 44.0 ± 0.0 | 37.0 ± 1.4 | 16.0 ± 0.0 | 30.0 ± 0.0 |",
    ]
    # Table 2 has the encoder model and task only; Table 3 no encoder model
    table2 = (tmp_path / "report" / "table2.md").read_text().splitlines()
    assert table2[0] == "| Model | wikiann f1 en | wikiann f1 avg-0s |"
    assert [line.split(" | ")[0] for line in table2[2:3]] == ["| roberta-12e"] and table2[
        3
    ] == ""
    # one run: its value alone
    assert table2[2] == "| roberta-12e | 80.0 | 60.0 |"


def test_table3_csv(results, tmp_path):
    build_report(results, tmp_path / "report")
    rows = list(csv.DictReader(open(tmp_path / "report" / "table3.csv")))
    assert list(rows[0]) == [
        "model",
        "task",
        "metric",
        "split",
        "mean",
        "std",
        "pretrain_std",
        "ci_low",
        "ci_high",
        "runs",
        "pretrain_seeds",
    ]
    mbart = [r for r in rows if r["model"] == "mbart-12e12d"]
    assert [
        (r["task"], r["metric"], r["split"], float(r["mean"]), r["runs"]) for r in mbart
    ] == [
        ("mtop", "sciem", "en", 62.0, "2"),
        ("mtop", "sciem", "avg-0s", 44.0, "2"),
        ("xsum", "rouge1", "en", 37.0, "2"),
        ("xsum", "rouge2", "en", 16.0, "2"),
        ("xsum", "rougeL", "en", 30.0, "2"),
    ]
    # sample standard deviations: (60, 64) -> sqrt(8), (36, 38) -> sqrt(2)
    assert float(mbart[0]["std"]) == pytest.approx(8**0.5, abs=1e-4)
    assert float(mbart[2]["std"]) == pytest.approx(2**0.5, abs=1e-4)
    # the t-interval of two runs: mean +- t(0.975, 1) x sd / sqrt(2)
    half = 12.7062047 * 8**0.5 / 2**0.5
    assert (float(mbart[0]["ci_low"]), float(mbart[0]["ci_high"])) == pytest.approx(
        (62 - half, 62 + half), abs=1e-3
    )
    assert mbart[0]["pretrain_std"] == "" and mbart[0]["pretrain_seeds"] == "1"
    assert {r["model"] for r in rows} == set(MTOP)  # no encoder model
    assert len(rows) == 3 * 5


def test_mtop_language_table_and_charts(results, tmp_path):
    written = build_report(results, tmp_path / "report")
    languages = (tmp_path / "report" / "languages.md").read_text()
    assert (
        "### mtop sciem\n\n| Model | en | de | es | fr | hi |\n|---|---|---|---|---|---|\n"
        "| 2stage-bart-12e12d | 61.0 ± 1.4 [48.3, 73.7] | 41.0 ± 1.4 [28.3, 53.7] "
        "| 45.0 ± 1.4 [32.3, 57.7] | 43.0 ± 1.4 [30.3, 55.7] | 31.0 ± 1.4 [18.3, 43.7] |\n"
        "| bart-12e12d | 58.0 ± 0.0 [58.0, 58.0] | 30.0 ± 0.0 [30.0, 30.0] "
        "| 34.0 ± 0.0 [34.0, 34.0] | 32.0 ± 0.0 [32.0, 32.0] | 20.0 ± 0.0 [20.0, 20.0] |\n"
        "| mbart-12e12d | 62.0 ± 2.8 [36.6, 87.4] | 45.0 ± 0.0 [45.0, 45.0] "
        "| 47.0 ± 0.0 [47.0, 47.0] | 46.0 ± 0.0 [46.0, 46.0] | 38.0 ± 0.0 [38.0, 38.0] |"
    ) in languages
    assert "### wikiann f1" in languages and "xsum" not in languages
    rows = list(csv.DictReader(open(tmp_path / "report" / "languages.csv")))
    hi = [
        (r["model"], float(r["mean"]))
        for r in rows
        if r["task"] == "mtop" and r["language"] == "hi"
    ]
    assert hi == [
        ("2stage-bart-12e12d", 31.0),
        ("bart-12e12d", 20.0),
        ("mbart-12e12d", 38.0),
    ]
    for task in ("mtop", "xsum", "wikiann"):
        png = tmp_path / "report" / f"{task}.png"
        assert png in written and png.read_bytes()[:8] == PNG
    assert not list((tmp_path / "report").glob("*.tmp*"))


def test_seq2seq_only_tree(tmp_path):
    root = _seq2seq_tree(tmp_path / "results")
    written = build_report(root, tmp_path / "report")
    names = sorted(p.name for p in written)
    assert names == [
        "findings.md",  # finding 3: 2stage-bart-12e12d against bart-12e12d
        "languages.csv",
        "languages.md",
        "mtop.png",
        "seeds.png",
        "table3.csv",
        "table3.md",
        "xsum.png",
    ]
    assert not (tmp_path / "report" / "table2.md").exists()
    assert (tmp_path / "report" / "table3.md").read_text().splitlines()[0] == HEADER


def test_xsum_only_tree_has_no_language_table(tmp_path):
    root = _seq2seq_tree(tmp_path / "results", tasks=("xsum",))
    written = build_report(root, tmp_path / "report")
    assert sorted(p.name for p in written) == [
        "findings.md",
        "seeds.png",
        "table3.csv",
        "table3.md",
        "xsum.png",
    ]
    table = (tmp_path / "report" / "table3.md").read_text().splitlines()
    assert table[0] == "| Model | xsum rouge1 | xsum rouge2 | xsum rougeL |"


def test_encoder_only_tree_writes_no_table3(tmp_path):
    root = tmp_path / "results"
    _write(
        root / "roberta-12e" / "xnli" / "seed1",
        {
            "task": "xnli",
            "metric": "accuracy",
            "en": 70.0,
            "avg_0s": 60.0,
            "languages": {"en": {"accuracy": 70.0}, "de": {"accuracy": 60.0}},
        },
    )
    written = build_report(root, tmp_path / "report")
    assert "table2.md" in {p.name for p in written}
    assert not list((tmp_path / "report").glob("table3*"))
    assert not (tmp_path / "report" / "mtop.png").exists()


def test_unknown_tasks_only_is_an_error(tmp_path):
    _write(tmp_path / "results" / "m" / "other" / "seed1", {"task": "other"})
    proc = python_module(
        "fairseq_recipes.eval.report", "--results", tmp_path / "results", check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        f"error: {tmp_path / 'results'}: no results of a known task"
    )


def test_console_script(results, tmp_path):
    exe = Path(sys.executable).parent / "recipes-report"
    out = tmp_path / "out"
    proc = run([exe, "--results", results, "--output", out])
    assert f"wrote {out / 'table3.md'}" in proc.stdout.splitlines()
    assert (out / "xsum.png").read_bytes()[:8] == PNG
    assert run([exe, "--help"]).stdout.startswith("usage: recipes-report")


def test_python_module_default_output(results):
    proc = python_module("fairseq_recipes.eval.report", "--results", results)
    report = results / "report"
    assert f"wrote {report / 'table3.md'}" in proc.stdout.splitlines()
    assert f"wrote {report / 'mtop.png'}" in proc.stdout.splitlines()
    assert (report / "table3.md").read_text().splitlines()[0] == HEADER
