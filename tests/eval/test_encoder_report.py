"""recipes-encoder-report on hand-written metrics: Table 2 as the paper marks it, the
per-language tables, CSV and charts."""

import csv
import json

import pytest
from helpers import python_module

from fairseq_recipes.eval.report import build_report


def _metrics(path, task, metric, langs):
    path.mkdir(parents=True)
    others = [v for lang, v in langs.items() if lang != "en"]
    data = {"task": task, "metric": metric, "en": langs["en"],
            "avg_0s": sum(others) / len(others),
            "languages": {lang: {metric: v} for lang, v in langs.items()}}  # fmt: skip
    (path / "metrics.json").write_text(json.dumps(data))


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    scores = {  # model -> seed -> (en, de, fr) WikiANN F1
        "roberta-12e": {1: (80.0, 60.0, 70.0), 2: (82.0, 62.0, 72.0)},
        "bart-12e12d": {1: (70.0, 50.0, 60.0), 2: (70.0, 50.0, 60.0)},
        "2stage-bart-12e12d": {1: (75.0, 65.0, 75.0)},
    }
    for model, seeds in scores.items():
        for seed, (en, de, fr) in seeds.items():
            _metrics(root / model / "wikiann" / f"seed{seed}", "wikiann", "f1",
                     {"en": en, "de": de, "fr": fr})  # fmt: skip
    _metrics(root / "roberta-12e" / "xnli" / "seed1", "xnli", "accuracy",
             {"en": 70.0, "de": 60.0})  # fmt: skip
    return root


def test_table2_marks_best_and_second(results, tmp_path):
    build_report(results, tmp_path / "report")
    table = (tmp_path / "report" / "table2.md").read_text().splitlines()
    assert table[0] == ("| Model | xnli accuracy en | xnli accuracy avg-0s | "
                        "wikiann f1 en | wikiann f1 avg-0s |")  # fmt: skip
    rows = {line.split(" | ")[0].strip("| "): line for line in table[2:]}
    # en: roberta 81.0 +- 1.4 best, 2stage 75.0 second; avg-0s: 2stage 70.0 best
    assert rows["roberta-12e"] == ("| roberta-12e | **70.0 ± 0.0** | **60.0 ± 0.0** | "
                                   "**81.0 ± 1.4** | <u>66.0 ± 1.4</u> |")  # fmt: skip
    assert rows["2stage-bart-12e12d"] == ("| 2stage-bart-12e12d |  |  | <u>75.0 ± 0.0</u> "
                                          "| **70.0 ± 0.0** |")  # fmt: skip
    assert rows["bart-12e12d"] == "| bart-12e12d |  |  | 70.0 ± 0.0 | 55.0 ± 0.0 |"


def test_csv_languages_and_charts(results, tmp_path):
    written = build_report(results, tmp_path / "report")
    rows = list(csv.DictReader(open(tmp_path / "report" / "table2.csv")))
    roberta = [r for r in rows if r["model"] == "roberta-12e" and r["task"] == "wikiann"]
    assert [(r["split"], float(r["mean"]), r["seeds"]) for r in roberta] == [
        ("en", 81.0, "2"), ("avg-0s", 66.0, "2")]  # fmt: skip
    assert float(roberta[0]["std"]) == pytest.approx(2**0.5, abs=1e-4)  # sample std
    languages = (tmp_path / "report" / "languages.md").read_text()
    assert "### wikiann f1\n\n| Model | en | de | fr |" in languages
    assert "| roberta-12e | 81.0 ± 1.4 | 61.0 ± 1.4 | 71.0 ± 1.4 |" in languages
    for task in ("wikiann", "xnli"):
        png = tmp_path / "report" / f"{task}.png"
        assert png in written and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "report").glob("*.tmp*"))


def test_no_results_is_a_one_line_error(tmp_path):
    proc = python_module(
        "fairseq_recipes.eval.report", "--results", tmp_path, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path}: no */*/seed*/metrics.json"
