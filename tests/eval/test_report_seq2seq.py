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
    _write(path, {"task": "mtop", "metric": "sciem", "en": langs["en"],
                  "avg_0s": sum(scores[1:]) / 4,
                  "languages": {lang: {"sciem": v} for lang, v in langs.items()},
                  "seed": seed, "model": "checkpoints/checkpoint_best.pt"})  # fmt: skip


def _xsum(path, seed, scores):
    rouge = dict(zip(("rouge1", "rouge2", "rougeL"), scores))
    _write(path, {"task": "xsum", "metric": "rougeL", "en": rouge["rougeL"], "avg_0s": None,
                  "languages": {"en": rouge}, "seed": seed,
                  "model": "checkpoints/checkpoint_best.pt"})  # fmt: skip


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
    _write(root / "roberta-12e" / "wikiann" / "seed1",
           {"task": "wikiann", "metric": "f1", "en": 80.0, "avg_0s": 60.0,
            "languages": {"en": {"f1": 80.0}, "de": {"f1": 60.0}}})  # fmt: skip
    return root


HEADER = ("| Model | mtop sciem en | mtop sciem avg-0s | xsum rouge1 | xsum rouge2 | "
          "xsum rougeL |")  # fmt: skip


def test_table3_marks_best_and_second(results, tmp_path):
    build_report(results, tmp_path / "report")
    table = (tmp_path / "report" / "table3.md").read_text().splitlines()
    # mTOP en: mbart (60, 64) 62.0 +- 2.8 best, 2stage (60, 62) 61.0 +- 1.4 second;
    # avg-0s (mean of de/es/fr/hi): mbart 44 best, 2stage (39, 41) 40.0 second, bart 29;
    # 2stage 39 best, bart and mbart tie at 37 second; R-2: 2stage and mbart tie at
    # 16 best, bart 14 second; R-L: 2stage 31 best, mbart 30 second, bart 29
    assert table == [
        HEADER,
        "|---|---|---|---|---|---|",
        "| 2stage-bart-12e12d | <u>61.0 ± 1.4</u> | <u>40.0 ± 1.4</u> | **39.0 ± 1.4** "
        "| **16.0 ± 1.4** | **31.0 ± 1.4** |",
        "| bart-12e12d | 58.0 ± 0.0 | 29.0 ± 0.0 | <u>37.0 ± 0.0</u> | <u>14.0 ± 0.0</u> "
        "| 29.0 ± 0.0 |",
        "| mbart-12e12d | **62.0 ± 2.8** | **44.0 ± 0.0** | <u>37.0 ± 1.4</u> "
        "| **16.0 ± 0.0** | <u>30.0 ± 0.0</u> |",
    ]
    # Table 2 has the encoder model and task only; Table 3 no encoder model
    table2 = (tmp_path / "report" / "table2.md").read_text().splitlines()
    assert table2[0] == "| Model | wikiann f1 en | wikiann f1 avg-0s |"
    assert [line.split(" | ")[0] for line in table2[2:]] == ["| roberta-12e"]


def test_table3_csv(results, tmp_path):
    build_report(results, tmp_path / "report")
    rows = list(csv.DictReader(open(tmp_path / "report" / "table3.csv")))
    assert list(rows[0]) == ["model", "task", "metric", "split", "mean", "std", "seeds"]
    mbart = [r for r in rows if r["model"] == "mbart-12e12d"]
    assert [(r["task"], r["metric"], r["split"], float(r["mean"]), r["seeds"])
            for r in mbart] == [
        ("mtop", "sciem", "en", 62.0, "2"), ("mtop", "sciem", "avg-0s", 44.0, "2"),
        ("xsum", "rouge1", "en", 37.0, "2"), ("xsum", "rouge2", "en", 16.0, "2"),
        ("xsum", "rougeL", "en", 30.0, "2")]  # fmt: skip
    # sample standard deviations: (60, 64) -> sqrt(8), (36, 38) -> sqrt(2)
    assert float(mbart[0]["std"]) == pytest.approx(8**0.5, abs=1e-4)
    assert float(mbart[2]["std"]) == pytest.approx(2**0.5, abs=1e-4)
    assert {r["model"] for r in rows} == set(MTOP)  # no encoder model
    assert len(rows) == 3 * 5


def test_mtop_language_table_and_charts(results, tmp_path):
    written = build_report(results, tmp_path / "report")
    languages = (tmp_path / "report" / "languages.md").read_text()
    assert ("### mtop sciem\n\n| Model | en | de | es | fr | hi |\n|---|---|---|---|---|---|\n"
            "| 2stage-bart-12e12d | 61.0 ± 1.4 | 41.0 ± 1.4 | 45.0 ± 1.4 | 43.0 ± 1.4 "
            "| 31.0 ± 1.4 |\n"
            "| bart-12e12d | 58.0 ± 0.0 | 30.0 ± 0.0 | 34.0 ± 0.0 | 32.0 ± 0.0 | 20.0 ± 0.0 |\n"
            "| mbart-12e12d | 62.0 ± 2.8 | 45.0 ± 0.0 | 47.0 ± 0.0 | 46.0 ± 0.0 "
            "| 38.0 ± 0.0 |") in languages  # fmt: skip
    assert "### wikiann f1" in languages and "xsum" not in languages
    rows = list(csv.DictReader(open(tmp_path / "report" / "languages.csv")))
    hi = [(r["model"], float(r["mean"])) for r in rows if r["task"] == "mtop"
          and r["language"] == "hi"]  # fmt: skip
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
    assert names == ["languages.csv", "languages.md", "mtop.png", "table3.csv",
                     "table3.md", "xsum.png"]  # fmt: skip
    assert not (tmp_path / "report" / "table2.md").exists()
    assert (tmp_path / "report" / "table3.md").read_text().splitlines()[0] == HEADER


def test_xsum_only_tree_has_no_language_table(tmp_path):
    root = _seq2seq_tree(tmp_path / "results", tasks=("xsum",))
    written = build_report(root, tmp_path / "report")
    assert sorted(p.name for p in written) == ["table3.csv", "table3.md", "xsum.png"]
    table = (tmp_path / "report" / "table3.md").read_text().splitlines()
    assert table[0] == "| Model | xsum rouge1 | xsum rouge2 | xsum rougeL |"


def test_encoder_only_tree_writes_no_table3(tmp_path):
    root = tmp_path / "results"
    _write(root / "roberta-12e" / "xnli" / "seed1",
           {"task": "xnli", "metric": "accuracy", "en": 70.0, "avg_0s": 60.0,
            "languages": {"en": {"accuracy": 70.0}, "de": {"accuracy": 60.0}}})  # fmt: skip
    written = build_report(root, tmp_path / "report")
    assert "table2.md" in {p.name for p in written}
    assert not list((tmp_path / "report").glob("table3*"))
    assert not (tmp_path / "report" / "mtop.png").exists()


def test_unknown_tasks_only_is_an_error(tmp_path):
    _write(tmp_path / "results" / "m" / "other" / "seed1", {"task": "other"})
    proc = python_module("fairseq_recipes.eval.report", "--results", tmp_path / "results",
                         check=False)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        f"error: {tmp_path / 'results'}: no results of a known task"
    )


@pytest.mark.parametrize("script", ["recipes-report", "recipes-encoder-report"])
def test_console_script(results, tmp_path, script):
    exe = Path(sys.executable).parent / script
    out = tmp_path / f"out-{script}"
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
