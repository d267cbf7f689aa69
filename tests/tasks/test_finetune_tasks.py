"""Fine-tuning: first-subword alignment with a real SentencePiece model, pieces of long
sentences, span F1 against seqeval, encoders taken from every kind of checkpoint, and a
few updates of each task with a falling loss."""

import random

import pytest
import torch
from fairseq import checkpoint_utils
from fairseq.models import ARCH_MODEL_REGISTRY
from fairseq_setup import setup
from helpers import XNLI_HEADER, fairseq, shared_data, train_losses, xnli_row
from seqeval.metrics import f1_score

from fairseq_recipes.checkpoints import encoder_state
from fairseq_recipes.compat import load_without_init
from fairseq_recipes.data.finetune.encoding import (
    IGNORE,
    pair_pieces,
    rejoin,
    sentence_pieces,
    token_labels,
    word_subwords,
)
from fairseq_recipes.preprocessing.vocab import SpmTokenizer, load_dictionary
from fairseq_recipes.scoring.sequence_labels import entity_counts, f1_from_counts


@pytest.fixture(scope="module")
def spm_tokenizer(data_bin):
    dictionary = load_dictionary(data_bin / "dict.txt")
    return SpmTokenizer(data_bin / "spm.model", dictionary), dictionary


@pytest.fixture(scope="module")
def words(raw_corpus):
    """Twelve words or more of English from the corpus the model was trained on (real
    UD text when ../shared/data is present, else the toy corpus)."""
    found = []
    for line in (raw_corpus / "en.txt").read_text(encoding="utf-8").splitlines():
        found += line.split()
        if len(found) >= 12:
            return found
    raise AssertionError("fewer than 12 English words")


def test_first_subword_alignment_with_the_real_model(spm_tokenizer, words):
    tokenizer, d = spm_tokenizer
    subwords = word_subwords(tokenizer, words, d.unk())
    (piece,) = sentence_pieces(0, subwords, 510, d.bos(), d.eos())
    assert piece.tokens[0] == d.bos() and piece.tokens[-1] == d.eos()
    assert len(piece.tokens) == 2 + sum(len(s) for s in subwords)
    for word, ids, first in zip(words, subwords, piece.first_subword):
        assert piece.tokens[first] == ids[0]
        assert d[ids[0]].startswith("▁")  # a word starts a new piece
        assert tokenizer.decode(piece.tokens[first : first + len(ids)]) == word
    labels = token_labels(piece, list(range(len(words))))
    assert labels[piece.first_subword].tolist() == list(range(len(words)))
    assert (labels != IGNORE).sum() == len(words)  # other subwords carry no label


def test_long_sentences_are_split_and_rejoined_word_for_word(spm_tokenizer, words):
    tokenizer, d = spm_tokenizer
    words = words * 7
    subwords = word_subwords(tokenizer, words, d.unk())
    pieces = sentence_pieces(3, subwords, 14, d.bos(), d.eos())
    assert len(pieces) > 5 and all(len(p.tokens) <= 16 for p in pieces)
    assert [(p.start, p.end) for p in pieces][0][0] == 0 and pieces[-1].end == len(words)
    shuffled = pieces[::-1]  # batches come in any order
    predictions = [[f"w{i}" for i in range(p.start, p.end)] for p in shuffled]
    assert rejoin(shuffled, predictions) == {3: [f"w{i}" for i in range(len(words))]}
    with pytest.raises(ValueError, match="predictions for words"):
        rejoin(pieces[:1], [["too", "few"]])


def test_pairs_too_long_repeat_the_hypothesis_in_each_piece(spm_tokenizer, words):
    tokenizer, d = spm_tokenizer
    premise = tokenizer.encode(" ".join(words * 5))
    hypothesis = tokenizer.encode(" ".join(words[:3]))
    pieces = pair_pieces(0, premise, hypothesis, 32, d.bos(), d.eos())
    assert all(len(p.tokens) <= 32 for p in pieces)
    first_parts = [p.tokens[1 : 1 + p.end - p.start] for p in pieces]
    assert torch.equal(
        torch.tensor(list(sum(map(list, first_parts), []))),
        torch.tensor(premise.tolist()),
    )
    for p in pieces:
        assert p.tokens[-len(hypothesis) - 1 : -1].tolist() == hypothesis.tolist()


def _random_tags(rng, kinds, n):
    return [rng.choice(kinds) for _ in range(n)]


@pytest.mark.parametrize(
    "kinds",
    [
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"],
        ["NOUN", "VERB", "ADP", "DET", "PUNCT", "PROPN"],
    ],
    ids=["iob2", "upos"],
)
def test_span_f1_from_counts_equals_seqeval(kinds):
    rng = random.Random(0)
    gold = [_random_tags(rng, kinds, rng.randint(1, 12)) for _ in range(200)]
    pred = [[t if rng.random() < 0.7 else rng.choice(kinds) for t in s] for s in gold]
    # counted in batches of 16 sentences and summed, as fairseq does
    totals = [0, 0, 0]
    for i in range(0, len(gold), 16):
        for k, v in enumerate(entity_counts(gold[i : i + 16], pred[i : i + 16])):
            totals[k] += v
    assert f1_from_counts(*totals) == pytest.approx(f1_score(gold, pred), abs=1e-12)


@pytest.mark.parametrize(
    "source", ["roberta-12e", "bart-12e12d", "2stage-bart-12e12d", "bart-12e12d+mlm"]
)
def test_encoder_of_any_checkpoint(smoke, data_bin, tmp_path, source):
    """The fine-tuning model computes what the source checkpoint's encoder computes."""
    checkpoint = smoke(source)[0] / "checkpoint_last.pt"
    train = tmp_path / "train"
    train.write_text("en:Ada\tB-PER\nen:sleeps\tO\n", encoding="utf-8")
    task, ns = setup(
        data_bin,
        "--task",
        "recipes_word_tagging",
        "--arch",
        "recipes_encoder_heads",
        "--encoder-from",
        checkpoint,
        "--train-file",
        train,
        "--max-piece-tokens",
        128,
    )
    before = torch.get_rng_state()
    bare = ARCH_MODEL_REGISTRY["recipes_encoder_heads"].build_model(ns, task)
    # every encoder weight comes from the checkpoint: none was drawn first
    assert torch.equal(before, torch.get_rng_state())
    assert not load_without_init.has_meta([bare])
    expected = encoder_state.encoder_weights(encoder_state.load(str(checkpoint)))
    loaded = bare.encoder.sentence_encoder.state_dict()
    assert loaded.keys() <= expected.keys()
    assert all(torch.equal(v, expected[k]) for k, v in loaded.items())
    model = task.build_model(ns).eval()
    (original,), _ = checkpoint_utils.load_model_ensemble([str(checkpoint)])
    original.eval()
    tokens = torch.randint(5, len(task.dictionary) - 2, (2, 20))
    tokens[:, 0] = task.dictionary.bos()
    with torch.no_grad():
        ours = model.features(tokens)
        if source in ("roberta-12e", "bart-12e12d+mlm"):  # MLM encoders
            theirs, _ = original.encoder.extract_features(tokens)
        else:
            out = original.encoder(tokens, torch.full((2,), 20))["encoder_out"][0]
            theirs = out.transpose(0, 1)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert model.encoder.lm_head is None and len(model.heads["tags"].layers) == 5


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _panx(tmp_path):
    rng = random.Random(1)
    names, places = ["Ada", "Bob", "Cleo"], ["Paris", "Rome", "Oslo"]
    lines = []
    for _ in range(120):
        for _ in range(rng.randint(3, 7)):
            r = rng.random()
            word, tag = (
                (rng.choice(names), "B-PER")
                if r < 0.25
                else (rng.choice(places), "B-LOC") if r < 0.5 else ("the", "O")
            )
            lines.append(f"en:{word}\t{tag}")
        lines.append("")
    text = "\n".join(lines) + "\n"
    return [
        "--data-format",
        "panx",
        "--train-file",
        _write(tmp_path / "train", text),
        "--valid-file",
        _write(tmp_path / "dev", text),
    ]


def _udpos(tmp_path):
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is not present")
    ewt = root / "ud" / "UD_English-EWT"
    return [
        "--data-format",
        "conllu",
        "--train-file",
        ewt / "en_ewt-ud-dev.conllu",
        "--valid-file",
        ewt / "en_ewt-ud-test.conllu",
    ]


def _xnli(tmp_path):
    rows = ["premise\thypo\tlabel"]
    for i in range(150):
        label = ["entailment", "neutral", "contradictory"][i % 3]
        hypothesis = {
            "entailment": "A person rests.",
            "neutral": "A person dreams.",
            "contradictory": "Nobody sleeps.",
        }[label]
        rows.append(f"A man sleeps number {i}.\t{hypothesis}\t{label}")
    text = "\n".join(rows) + "\n"
    return [
        "--train-file",
        _write(tmp_path / "multinli.train.en.tsv", text),
        "--valid-file",
        _write(tmp_path / "multinli.dev.en.tsv", text),
    ]


def _matis(tmp_path):
    rows = ["id\tutterance\tslot_labels\tintent"]
    for i in range(150):
        city = ["boston", "denver", "dallas"][i % 3]
        intent = ["atis_flight", "atis_airfare", "atis_flight#atis_airfare"][i % 3]
        rows.append(f"{i}\tflights to {city} please\tO O B-toloc.city_name O\t{intent}")
    text = "\n".join(rows) + "\n"
    return [
        "--train-file",
        _write(tmp_path / "train_EN.tsv", text),
        "--valid-file",
        _write(tmp_path / "dev_EN.tsv", text),
    ]


# a sentence head reads <s>, which a smoke-trained encoder barely varies: it needs more
# updates at a larger step than the word heads before the encoder routes the signal there
@pytest.mark.parametrize(
    "task, criterion, data, metric, updates, lr",
    [
        ("recipes_word_tagging", "recipes_word_tagging", _panx, "f1", 30, 2e-3),
        ("recipes_word_tagging", "recipes_word_tagging", _udpos, "f1", 30, 2e-3),
        (
            "recipes_sentence_pair",
            "recipes_sentence_classification",
            _xnli,
            "accuracy",
            80,
            3e-3,
        ),
        ("recipes_intent_slots", "recipes_intent_slots", _matis, "slot_f1", 80, 3e-3),
    ],
    ids=["wikiann", "udpos", "xnli", "matis"],
)
def test_tiny_encoder_fine_tunes_and_its_loss_falls(
    smoke, data_bin, tmp_path, task, criterion, data, metric, updates, lr
):
    encoder = smoke("roberta-12e")[0] / "checkpoint_last.pt"
    proc = fairseq(
        "train",
        data_bin,
        "--task",
        task,
        "--criterion",
        criterion,
        *data(tmp_path),
        "--arch",
        "recipes_encoder_heads",
        "--encoder-from",
        encoder,
        "--freeze-embeddings",
        "--max-piece-tokens",
        128,
        "--optimizer",
        "adam",
        "--lr",
        lr,
        "--lr-scheduler",
        "polynomial_decay",
        "--warmup-updates",
        3,
        "--total-num-update",
        updates,
        "--max-update",
        updates,
        "--batch-size",
        16,
        "--cpu",
        "--save-dir",
        tmp_path / "ck",
        "--log-interval",
        1,
        "--log-format",
        "json",
        "--best-checkpoint-metric",
        metric,
        "--maximize-best-checkpoint-metric",
        "--required-batch-size-multiple",
        1,
        "--no-epoch-checkpoints",
        "--validate-interval-updates",
        updates,
    )
    log = proc.stdout + proc.stderr
    losses = [loss for _, loss in train_losses(log)]
    assert len(losses) == updates
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    assert f"best_{metric}" in log
    assert (tmp_path / "ck" / "checkpoint_best.pt").is_file()
    if task == "recipes_sentence_pair":
        _xnli_test_languages(tmp_path)


def _xnli_test_languages(tmp_path):
    """One XNLI-1.0 file holds every language: each test language gets its own rows."""
    from fairseq_recipes.eval.finetune import evaluate

    rows = [xnli_row("en", "neutral", "A man sleeps.", "A person dreams.")] * 3
    rows += [xnli_row("de", "entailment", "Ein Mann schläft.", "Er ruht.")] * 5
    test = _write(tmp_path / "xnli.test.tsv", "\n".join([XNLI_HEADER, *rows]) + "\n")
    result = evaluate(
        tmp_path / "ck" / "checkpoint_best.pt", {"en": test, "de": test}, tmp_path, "xnli"
    )
    for lang, rows in (("en", 3), ("de", 5)):
        lines = (tmp_path / "predictions" / f"{lang}.tsv").read_text().splitlines()
        assert len(lines) == rows
        gold = {"en": "neutral", "de": "entailment"}[lang]
        assert all(line.split("\t")[0] == gold for line in lines)
    assert result["avg_0s"] == result["languages"]["de"]["accuracy"]
