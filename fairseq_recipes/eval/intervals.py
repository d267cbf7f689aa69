"""How far a score can move by chance: 95% intervals, from the test set or from seeds.

* One run: a percentile bootstrap over the test set's examples (``RESAMPLES`` resamples
  of the examples with replacement, a fixed generator, so a rerun writes the same
  interval). Every metric here is either a mean over examples (accuracy, exact match,
  ROUGE F1: ``("mean", values)``), a ratio of per-sentence counts (word accuracy:
  ``("ratio", [(correct, words)])``) or a span F1 from per-sentence counts (seqeval's
  entities: ``("f1", [(correct, predicted, gold)])``, the same number as seqeval's
  ``f1_score`` over the whole set), so a resample's score is computed from its parts.
  avg-0s resamples each language independently and averages, as the score does.
* Several runs (seeds): a t-interval of the mean over the runs' scores.

The report marks a model best only when its interval lies above the others' (see
``report.py``); with 64 test examples one example is 1.6 points, and the intervals show
that an English difference of a few points is no ranking.
"""

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

LEVEL = 0.95
RESAMPLES = 1000
SEED = 0

#: ("mean", values), ("ratio", counts of shape (n, 2)) or ("f1", counts of shape (n, 3))
Parts = Tuple[str, np.ndarray]


def mean_parts(values: Sequence[float]) -> Parts:
    """A metric that is 100 x the mean of per-example values (1/0 for a match)."""
    return "mean", np.asarray(values, dtype=float)


def ratio_parts(counts: Sequence[Tuple[int, int]]) -> Parts:
    """A metric that is 100 x sum(numerators) / sum(denominators) over examples."""
    return "ratio", np.asarray(counts, dtype=float).reshape(-1, 2)


def f1_parts(gold: List[list], predicted: List[list]) -> Parts:
    """Span F1 as seqeval computes it, from per-sentence (correct, predicted, gold)
    entity counts (seqeval's ``get_entities``)."""
    from seqeval.metrics.sequence_labeling import get_entities

    counts = []
    for g, p in zip(gold, predicted, strict=True):
        true, found = set(get_entities(list(g))), set(get_entities(list(p)))
        counts.append((len(true & found), len(found), len(true)))
    return "f1", np.asarray(counts, dtype=float).reshape(-1, 3)


def value(parts: Parts, index: Optional[np.ndarray] = None) -> np.ndarray:
    """The metric (percent) of the examples ``index`` (rows: one resample each)."""
    kind, data = parts
    if index is None:
        index = np.arange(len(data))[None, :]
    if kind == "mean":
        return 100.0 * data[index].mean(axis=-1)
    sums = data[index].sum(axis=-2)  # (resamples, 2 or 3)
    if kind == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * np.where(sums[..., 1] > 0, sums[..., 0] / sums[..., 1], 0.0)
    denominator = sums[..., 1] + sums[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * sums[..., 0] / denominator, 0.0)
    return 100.0 * f1


def resamples(parts: Parts, rng: np.random.Generator) -> np.ndarray:
    n = len(parts[1])
    return value(parts, rng.integers(0, n, size=(RESAMPLES, n)))


def _percentile(draws: np.ndarray) -> List[float]:
    tail = 100 * (1 - LEVEL) / 2
    return [float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))]


def bootstrap(per_language: Dict[str, Dict[str, Parts]], main: str) -> dict:
    """{lang: {metric: [low, high]}} and, with languages besides English, ``avg_0s``:
    the main metric's interval of the mean over them."""
    rng = np.random.default_rng(SEED)
    out, others = {}, []
    for lang, metrics in per_language.items():
        out[lang] = {}
        for metric, parts in metrics.items():
            if len(parts[1]) == 0:
                continue
            draws = resamples(parts, rng)
            out[lang][metric] = _percentile(draws)
            if metric == main and lang != "en":
                others.append(draws)
    if others:
        out["avg_0s"] = {main: _percentile(np.mean(others, axis=0))}
    return out


def seed_interval(values: Sequence[float]) -> Optional[List[float]]:
    """The t-interval of the mean of two or more runs; None for one."""
    from scipy.stats import t

    values = [v for v in values if v is not None]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = t.ppf(1 - (1 - LEVEL) / 2, len(values) - 1) * sd / math.sqrt(len(values))
    return [float(mean - half), float(mean + half)]


def metrics_record(task: str, main: str, metrics: dict, parts: dict) -> dict:
    """What ``metrics.json`` holds for one fine-tuning run: the scores per language,
    English and avg-0s of the main metric, and each score's bootstrap interval."""
    others = [m[main] for lang, m in metrics.items() if lang != "en"]
    return {
        "task": task,
        "metric": main,
        "languages": metrics,
        "en": metrics.get("en", {}).get(main),
        "avg_0s": sum(others) / len(others) if others else None,
        "examples": {lang: len(next(iter(p.values()))[1]) for lang, p in parts.items()},
        "intervals": bootstrap(parts, main),
        "interval_level": LEVEL,
    }
