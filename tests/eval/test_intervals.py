"""The 95% intervals: each metric's parts give the scorer's own value, the bootstrap is
reproducible and covers what it should, and the t-interval is Student's."""

import random

import numpy as np
import pytest

from fairseq_recipes.eval import intervals
from fairseq_recipes.eval.predict import score, score_parts
from fairseq_recipes.eval.readers.examples import IntentSlots, SentencePair, TaggedWords

BIO = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"]
POS = ["NOUN", "VERB", "DET", "ADJ", "PUNCT"]


def _noisy(gold, labels, rng, keep=0.7):
    return [g if rng.random() < keep else rng.choice(labels) for g in gold]


def _tagged(labels, n=40, seed=0):
    rng = random.Random(seed)
    examples, predictions = [], []
    for i in range(n):
        tags = tuple(rng.choice(labels) for _ in range(rng.randint(1, 12)))
        words = tuple(f"w{i}_{j}" for j in range(len(tags)))
        examples.append(TaggedWords(words, tags, "en", "test"))
        predictions.append(_noisy(tags, labels, rng))
    return examples, predictions


@pytest.mark.parametrize("labels", [BIO, POS], ids=["wikiann", "udpos"])
def test_parts_of_tagging_give_seqevals_f1_and_word_accuracy(labels):
    examples, predictions = _tagged(labels)
    scores, parts = score(examples, predictions), score_parts(examples, predictions)
    assert set(parts) == set(scores)
    for metric, value in scores.items():
        assert intervals.value(parts[metric])[0] == pytest.approx(value, abs=1e-9)


def test_parts_of_sentence_pairs_and_intents_give_the_scores():
    rng = random.Random(1)
    labels = ["entailment", "neutral", "contradiction"]
    pairs = [SentencePair("p", "h", rng.choice(labels), "en", "t") for _ in range(30)]
    guesses = [rng.choice(labels) for _ in pairs]
    slots = [
        IntentSlots(
            ("a", "b", "c"),
            tuple(rng.choice(BIO) for _ in range(3)),
            rng.choice(["x", "y"]),
            "en",
            "t",
        )
        for _ in range(30)
    ]
    predicted = [(rng.choice(["x", "y"]), _noisy(e.slots, BIO, rng)) for e in slots]
    for examples, predictions in ((pairs, guesses), (slots, predicted)):
        scores, parts = score(examples, predictions), score_parts(examples, predictions)
        assert set(parts) == set(scores)
        for metric, value in scores.items():
            assert intervals.value(parts[metric])[0] == pytest.approx(value, abs=1e-9)


def test_bootstrap_is_reproducible_and_narrows_with_the_test_set():
    rng = np.random.default_rng(3)

    def matches(n):
        return intervals.mean_parts(rng.random(n) < 0.6)

    small, large = matches(64), matches(4096)
    per_lang = {"en": {"sciem": small}, "de": {"sciem": large}, "fr": {"sciem": small}}
    first = intervals.bootstrap(per_lang, "sciem")
    assert first == intervals.bootstrap(per_lang, "sciem")  # a fixed generator
    for lang in ("en", "de"):
        low, high = first[lang]["sciem"]
        assert low <= intervals.value(per_lang[lang]["sciem"])[0] <= high
    width = {
        lang: first[lang]["sciem"][1] - first[lang]["sciem"][0] for lang in ("en", "de")
    }
    # a binomial proportion's 95% interval: about 2 x 1.96 x sqrt(p(1-p)/n) points
    for lang, n in (("en", 64), ("de", 4096)):
        assert width[lang] == pytest.approx(2 * 1.96 * 100 * (0.24 / n) ** 0.5, rel=0.25)
    # avg-0s: the mean over the non-English languages, resampled independently
    low, high = first["avg_0s"]["sciem"]
    mean = (intervals.value(large)[0] + intervals.value(small)[0]) / 2
    assert low <= mean <= high and high - low < width["en"]
    assert "avg_0s" not in intervals.bootstrap({"en": {"sciem": small}}, "sciem")


def test_seed_interval_is_students_t():
    assert intervals.seed_interval([50.0]) is None
    low, high = intervals.seed_interval([50.0, 52.0])
    assert (low, high) == pytest.approx((51 - 12.7062047, 51 + 12.7062047), abs=1e-6)
    low, high = intervals.seed_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451 * (2.5**0.5) / 5**0.5
    assert (low, high) == pytest.approx((3 - half, 3 + half), abs=1e-6)
