"""The paper's three findings as the report checks them (eval/findings.py): a comparison
is a difference only where the 95% intervals are disjoint, and each finding's verdict
follows from its comparisons."""

import json

import pytest

from fairseq_recipes.eval import findings
from fairseq_recipes.eval.findings import ABOVE, BELOW, FINDINGS, WITHIN, compare
from fairseq_recipes.eval.report import Cell, build_report


def _cell(low, high):
    mean = (low + high) / 2
    return Cell(mean, 1, 1, None, None, [low, high], [(mean, None)])


def _run(task, metric, score, half):
    """One run's metrics.json of ``task`` with English and avg-0s ``score`` and a
    bootstrap interval of ``score`` +- ``half`` on both (XSUM: English only)."""
    interval = [score - half, score + half]
    if task == "xsum":
        return {
            "task": task,
            "metric": "rougeL",
            "en": score,
            "avg_0s": None,
            "languages": {"en": {m: score for m in ("rouge1", "rouge2", "rougeL")}},
            "intervals": {"en": {m: interval for m in ("rouge1", "rouge2", "rougeL")}},
            "pretrain_seed": 1,
        }
    return {
        "task": task,
        "metric": metric,
        "en": score,
        "avg_0s": score,
        "languages": {"en": {metric: score}, "de": {metric: score}},
        "intervals": {"en": {metric: interval}, "avg_0s": {metric: interval}},
        "pretrain_seed": 1,
    }


METRIC = {"wikiann": "f1", "udpos": "f1", "mtop": "sciem", "xsum": "rougeL"}


def _found(scores, half=1.0):
    """{model: {task: score}} -> what report.collect returns, one run each."""
    return {
        model: {t: [_run(t, METRIC[t], s, half)] for t, s in tasks.items()}
        for model, tasks in scores.items()
    }


def _verdict(number, found):
    finding = FINDINGS[number - 1]
    rows = findings.comparisons(finding, found)
    return findings.verdict(finding, [row[-1] for row in rows]), rows


def test_compare_needs_disjoint_intervals():
    assert compare(_cell(5, 7), _cell(1, 4.9)) == ABOVE
    assert compare(_cell(1, 4.9), _cell(5, 7)) == BELOW
    assert compare(_cell(4, 6), _cell(5, 7)) == WITHIN
    assert compare(_cell(5, 7), _cell(1, 5)) == WITHIN  # touching is no difference
    assert compare(Cell(6, 1, 1, None, None, None, [(6, None)]), _cell(1, 2)) == WITHIN


def test_finding_1_compares_roberta_with_every_seq2seq_encoder():
    labeling = {"wikiann": 60.0, "udpos": 80.0}
    found = _found(
        {
            "roberta-12e": {"wikiann": 70.0, "udpos": 90.0},
            "bart-12e12d": labeling,
            "2stage-bart-12e12d-unfrz": labeling,
            # recipe 1 has no decoder, recipe 3 is not the paper's: neither is compared
            "bart-12e12d+mlm": {"wikiann": 75.0, "udpos": 95.0},
            "bart-12e12d-joint": {"wikiann": 75.0, "udpos": 95.0},
        }
    )
    verdict, rows = _verdict(1, found)
    assert verdict.startswith("holds")
    # 2 tasks x (en, avg-0s) x 2 seq2seq models
    assert len(rows) == 8
    assert {row[3] for row in rows} == {"bart-12e12d", "2stage-bart-12e12d-unfrz"}

    found["bart-12e12d"]["udpos"] = [_run("udpos", "f1", 95.0, 1.0)]
    assert _verdict(1, found)[0].startswith("does not hold")
    found["bart-12e12d"]["udpos"] = [_run("udpos", "f1", 89.0, 1.0)]
    assert _verdict(1, found)[0].startswith("partly")

    close = _found({"roberta-12e": labeling, "bart-12e12d": labeling}, half=5.0)
    assert _verdict(1, close)[0].startswith("cannot be resolved")


def test_finding_2_on_par_is_only_ever_consistent():
    generation = {"mtop": 50.0, "xsum": 30.0}
    found = _found(
        {
            "bart-12e12d": generation,
            "2stage-bart-12e12d-unfrz": {"mtop": 51.0, "xsum": 29.5},
        }
    )
    verdict, rows = _verdict(2, found)
    assert verdict.startswith("consistent")
    # mTOP en and avg-0s, XSUM's three ROUGE types
    assert [(r[0], r[2]) for r in rows] == [
        ("mtop", "en"),
        ("mtop", "avg_0s"),
        ("xsum", None),
        ("xsum", None),
        ("xsum", None),
    ]
    found["2stage-bart-12e12d-unfrz"]["mtop"] = [_run("mtop", "sciem", 40.0, 1.0)]
    assert _verdict(2, found)[0].startswith("does not hold")


def test_finding_3_frozen_behind_both():
    found = _found(
        {
            "bart-12e12d": {"mtop": 50.0, "xsum": 30.0},
            "2stage-bart-12e12d-unfrz": {"mtop": 50.0, "xsum": 30.0},
            "2stage-bart-12e12d": {"mtop": 40.0, "xsum": 20.0},
        }
    )
    verdict, rows = _verdict(3, found)
    assert verdict.startswith("holds") and len(rows) == 10
    found["2stage-bart-12e12d"]["xsum"] = [_run("xsum", "rougeL", 30.0, 1.0)]
    assert _verdict(3, found)[0].startswith("partly")


def test_a_finding_without_its_models_is_not_run():
    found = _found({"bart-12e12d": {"mtop": 50.0}})
    assert _verdict(3, found) == ("not run (its models or tasks have no results)", [])


def test_recipe_2_unfrozen_costs_the_papers_share_of_training_units():
    # Table 1: roberta-12e 5 TU, bart-12e12d 10 TU, 2stage-bart-12e12d-unfrz 6 TU
    assert findings.compute_ratio() == pytest.approx((5 + 6) / (5 + 10))


def test_report_writes_findings(tmp_path):
    scores = {
        "roberta-12e": {"wikiann": 70.0},
        "bart-12e12d": {"wikiann": 60.0, "mtop": 50.0},
    }
    for model, tasks in scores.items():
        for task, score in tasks.items():
            run = _run(task, METRIC[task], score, 1.0)
            path = tmp_path / "results" / model / task / "seed1"
            path.mkdir(parents=True)
            (path / "metrics.json").write_text(json.dumps(run))
    written = build_report(tmp_path / "results", tmp_path / "report")
    text = (tmp_path / "report" / "findings.md").read_text()
    assert tmp_path / "report" / "findings.md" in written
    assert "### 1. the MLM encoder beats" in text
    assert "**holds: every comparison beyond the noise.**" in text
    assert (
        "| wikiann f1 en | roberta-12e | bart-12e12d | +10.0 | 1.0 / 1.0 | above |"
        in text
    )
    # findings 2 and 3 have no model of theirs with results: no section
    assert "### 2." not in text and "### 3." not in text
