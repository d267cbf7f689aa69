"""recipes-report on hand-written metrics: Table 2 with marks only beyond the
noise, one run shown as its value alone, pre-training seeds beside fine-tuning seeds, the
per-language tables with their intervals, CSV and charts."""

import csv
import json

import pytest
from helpers import python_module

from fairseq_recipes.eval.report import Cell, build_report, ranks


def _metrics(path, task, metric, langs, intervals=None):
    """A metrics.json; ``intervals``: {lang or avg_0s: (low, high)} of ``metric``."""
    path.mkdir(parents=True)
    others = [v for lang, v in langs.items() if lang != "en"]
    data = {
        "task": task,
        "metric": metric,
        "en": langs["en"],
        "avg_0s": sum(others) / len(others),
        "languages": {lang: {metric: v} for lang, v in langs.items()},
    }
    if intervals:
        data["intervals"] = {k: {metric: list(v)} for k, v in intervals.items()}
    (path / "metrics.json").write_text(json.dumps(data))


def _wikiann(root, model, seed, en, de, fr, half=None):
    """A WikiANN run; ``half``: the half-width of its bootstrap intervals."""
    scores = {"en": en, "de": de, "fr": fr}
    intervals = None
    if half is not None:
        intervals = {k: (v - half, v + half) for k, v in scores.items()}
        intervals["avg_0s"] = ((de + fr) / 2 - half, (de + fr) / 2 + half)
    _metrics(root / model / "wikiann" / f"seed{seed}", "wikiann", "f1", scores, intervals)


@pytest.fixture
def results(tmp_path):
    """One run per model, each with its test set's bootstrap intervals (+-3): English
    resolves roberta > 2stage > bart; on avg-0s (roberta 65, 2stage 70, bart 55) the
    best is within the noise of the second: no mark."""
    root = tmp_path / "results"
    _wikiann(root, "roberta-12e", 1, 80.0, 60.0, 70.0, half=3.0)
    _wikiann(root, "2stage-bart-12e12d", 1, 72.0, 65.0, 75.0, half=3.0)
    _wikiann(root, "bart-12e12d", 1, 62.0, 50.0, 60.0, half=3.0)
    # an old metrics.json: no interval, so no mark can be justified
    _metrics(
        root / "roberta-12e" / "xnli" / "seed1",
        "xnli",
        "accuracy",
        {"en": 70.0, "de": 60.0},
    )
    return root


def _rows(path):
    table = path.read_text().split("\n\n")[0].splitlines()
    return table[0], {line.split(" | ")[0].strip("| "): line for line in table[2:]}


def test_table2_marks_only_differences_beyond_the_noise(results, tmp_path):
    build_report(results, tmp_path / "report")
    header, rows = _rows(tmp_path / "report" / "table2.md")
    assert header == (
        "| Model | xnli accuracy en | xnli accuracy avg-0s | "
        "wikiann f1 en | wikiann f1 avg-0s |"
    )
    # one run: the value alone (no "± 0.0"); xnli: one model, nothing to rank
    assert rows["roberta-12e"] == "| roberta-12e | 70.0 | 60.0 | **80.0** | 65.0 |"
    assert (
        rows["2stage-bart-12e12d"] == "| 2stage-bart-12e12d |  |  | <u>72.0</u> | 70.0 |"
    )
    assert rows["bart-12e12d"] == "| bart-12e12d |  |  | 62.0 | 55.0 |"
    text = (tmp_path / "report" / "table2.md").read_text()
    assert "unknown, not zero" in text and "95% interval" in text


def test_close_scores_get_no_mark(tmp_path):
    root = tmp_path / "results"
    _wikiann(root, "roberta-12e", 1, 80.0, 60.0, 70.0, half=3.0)
    _wikiann(root, "bart-12e12d", 1, 75.0, 55.0, 65.0, half=3.0)  # 5 < 3 + 3
    build_report(root, tmp_path / "report")
    _, rows = _rows(tmp_path / "report" / "table2.md")
    assert rows["roberta-12e"] == "| roberta-12e | 80.0 | 65.0 |"


def test_ranks_need_the_interval_above_every_lower_one():
    def cell(mean, low, high):
        return Cell(mean, 1, 1, None, None, [low, high], [(mean, None)])

    assert ranks([cell(80, 77, 83), cell(70, 67, 73), cell(60, 57, 63)]) == [1, 2, 0]
    # second within the noise of third: best alone
    assert ranks([cell(80, 77, 83), cell(62, 59, 65), cell(60, 57, 63)]) == [1, 0, 0]
    # best within the noise of second: no mark at all (not even for second over third)
    assert ranks([cell(72, 69, 75), cell(70, 67, 73), cell(50, 47, 53)]) == [0, 0, 0]
    # an unknown interval never wins a mark, and a lone cell has nothing to beat
    assert ranks([cell(80, 77, 83), Cell(50, 1, 1, None, None, None, [])]) == [0, 0]
    assert ranks([cell(80, 77, 83), None]) == [0, 0]


def test_pretrain_seeds_beside_finetuning_seeds(tmp_path):
    """Two pre-training seeds x two fine-tuning seeds: the mean of the seeds' means, the
    standard deviation over pre-training seeds (of their means) and over fine-tuning
    seeds (pooled), and the t-interval over the pre-training seeds' means."""
    root = tmp_path / "results"
    for pretrain_seed, base, tree in (
        (1, 80.0, root),
        (2, 84.0, root / "pretrain-seed2"),
    ):
        for seed, delta in ((1, -1.0), (2, 1.0)):
            _wikiann(tree, "roberta-12e", seed, base + delta, 60.0, 70.0)
    _wikiann(root, "bart-12e12d", 1, 70.0, 50.0, 60.0)
    written = build_report(root, tmp_path / "report")
    _, rows = _rows(tmp_path / "report" / "table2.md")
    # means 80 and 84: 82.0, sd over pre-training seeds sqrt(8) = 2.8; within each
    # pre-training seed (79, 81) and (83, 85): sd sqrt(2) = 1.4
    assert (
        rows["roberta-12e"]
        == "| roberta-12e | 82.0 ± 2.8 pt ± 1.4 ft | 65.0 ± 0.0 pt ± 0.0 ft |"
    )
    table = list(csv.DictReader(open(tmp_path / "report" / "table2.csv")))
    en = next(r for r in table if r["model"] == "roberta-12e" and r["split"] == "en")
    assert (en["runs"], en["pretrain_seeds"]) == ("4", "2")
    assert float(en["pretrain_std"]) == pytest.approx(8**0.5, abs=1e-4)
    assert float(en["std"]) == pytest.approx(2**0.5, abs=1e-4)
    half = 12.7062047 * 8**0.5 / 2**0.5
    assert float(en["ci_low"]) == pytest.approx(82 - half, abs=1e-3)
    seeds = tmp_path / "report" / "seeds.png"
    assert seeds in written and seeds.read_bytes()[:4] == b"\x89PNG"


def test_csv_languages_and_charts(results, tmp_path):
    written = build_report(results, tmp_path / "report")
    rows = list(csv.DictReader(open(tmp_path / "report" / "table2.csv")))
    roberta = [r for r in rows if r["model"] == "roberta-12e" and r["task"] == "wikiann"]
    assert [(r["split"], float(r["mean"]), r["runs"], r["std"]) for r in roberta] == [
        ("en", 80.0, "1", ""),
        ("avg-0s", 65.0, "1", ""),
    ]
    assert (float(roberta[0]["ci_low"]), float(roberta[0]["ci_high"])) == (77.0, 83.0)
    languages = (tmp_path / "report" / "languages.md").read_text()
    assert "### wikiann f1\n\n| Model | en | de | fr |" in languages
    assert (
        "| roberta-12e | 80.0 [77.0, 83.0] | 60.0 [57.0, 63.0] | 70.0 [67.0, 73.0] |"
        in languages
    )
    assert "| roberta-12e | 70.0 | 60.0 |" in languages  # xnli: no interval known
    for task in ("wikiann", "xnli"):
        png = tmp_path / "report" / f"{task}.png"
        assert png in written and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "report" / "seeds.png").exists()  # one run per model
    assert not list((tmp_path / "report").glob("*.tmp*"))


def test_no_results_is_a_one_line_error(tmp_path):
    proc = python_module(
        "fairseq_recipes.eval.report", "--results", tmp_path, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path}: no */*/seed*/metrics.json"
