"""recipes-finetune: per-seed runs, whole-sentence predictions, metrics equal to seqeval
on the written predictions, reuse of finished seeds, one-line errors."""

import json

import pytest
from helpers import python_module
from seqeval.metrics import f1_score

LONG = ["Ada", "met", "Bob", "in", "Paris", "and", "Rome"] * 6  # cut into pieces below
TAG = {"Ada": "B-PER", "Bob": "B-PER", "Paris": "B-LOC", "Rome": "B-LOC"}


def _panx(path, sentences):
    lines = []
    for words in sentences:
        lines += [f"en:{w}\t{TAG.get(w, 'O')}" for w in words] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(smoke, data_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("finetune")
    short = [["Ada", "met", "Bob"], ["Rome", "and", "Paris"], ["Bob", "in", "Rome"]] * 20
    train = _panx(tmp / "train", short)
    test_de = _panx(tmp / "test_de", [LONG, ["Bob", "in", "Paris"]])
    args = [
        "--checkpoint",
        smoke("roberta-12e")[0] / "checkpoint_last.pt",
        "--evaluation",
        "wikiann",
        "--data",
        data_bin,
        "--train",
        train,
        "--valid",
        train,
        "--test",
        f"en={train}",
        f"de={test_de}",
        "--output",
        tmp / "out",
        "--seeds",
        2,
        "--cpu",
        "--max-updates",
        8,
        "--peak-lr",
        2e-3,
        "--warmup-updates",
        2,
        "--batch-size",
        16,
        "--max-piece-tokens",
        16,
    ]
    first = python_module("fairseq_recipes.eval.finetune", *args)
    second = python_module("fairseq_recipes.eval.finetune", *args)
    return tmp / "out", first, second


def _read_predictions(path):
    gold, pred, sentence_g, sentence_p = [], [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line:
            gold.append(sentence_g), pred.append(sentence_p)
            sentence_g, sentence_p = [], []
            continue
        _, g, p = line.split("\t")
        sentence_g.append(g), sentence_p.append(p)
    return gold, pred


def test_each_seed_writes_predictions_and_metrics(runs):
    out, first, _ = runs
    for seed in (1, 2):
        metrics = json.loads((out / f"seed{seed}" / "metrics.json").read_text())
        assert metrics["seed"] == seed and metrics["metric"] == "f1"
        assert set(metrics["languages"]) == {"en", "de"}
        assert metrics["avg_0s"] == metrics["languages"]["de"]["f1"]
        # each score's bootstrap interval over its test set holds the score
        for lang in ("en", "de"):
            low, high = metrics["intervals"][lang]["f1"]
            assert low <= metrics["languages"][lang]["f1"] <= high
        assert metrics["intervals"]["avg_0s"]["f1"] == metrics["intervals"]["de"]["f1"]
        for lang in ("en", "de"):
            gold, pred = _read_predictions(
                out / f"seed{seed}" / "predictions" / f"{lang}.tsv"
            )
            assert metrics["languages"][lang]["f1"] == pytest.approx(
                100 * f1_score(gold, pred)
            )
        gold, _ = _read_predictions(out / f"seed{seed}" / "predictions" / "de.tsv")
        # the long sentence was cut into pieces and comes back whole, word for word
        assert [len(s) for s in gold] == [len(LONG), 3]
    assert "seed 2: f1 en" in first.stdout


def test_a_second_run_reuses_finished_seeds(runs):
    out, first, second = runs
    assert second.stdout.count("exists, reused") == 2
    assert "fine-tuning" not in second.stdout
    assert [line for line in second.stdout.splitlines() if line.startswith("seed ")][
        -2:
    ] == [line for line in first.stdout.splitlines() if line.startswith("seed ")][-2:]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--test", "de"], "--test de: expected LANG=FILE"),
        (
            ["--test", "de=/nonexistent"],
            "--test de=/nonexistent: /nonexistent: no such file",
        ),
        (
            ["--checkpoint", "/nonexistent.pt"],
            "--checkpoint /nonexistent.pt: no such file",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors(runs, data_bin, tmp_path, extra, message):
    out, _, _ = runs
    train = out.parent / "train"
    args = [
        "--checkpoint",
        train,
        "--evaluation",
        "wikiann",
        "--data",
        data_bin,
        "--train",
        train,
        "--valid",
        train,
        "--output",
        tmp_path / "out",
        *extra,
    ]
    proc = python_module("fairseq_recipes.eval.finetune", *args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert not (tmp_path / "out").exists()
