"""The toy evaluation sets: read by the fine-tuning readers as recipes-finetune reads
them, with learnable, non-degenerate labels, deterministic, written atomically."""

import argparse
import json
from collections import Counter
from pathlib import Path

import pytest

from fairseq_recipes.eval.finetune import _read
from fairseq_recipes.eval.readers.examples import check_labels, labels_of
from fairseq_recipes.eval.readers.mtop import is_structure
from fairseq_recipes.eval.readers.sentinels import sentinel_index, to_sentinels
from fairseq_recipes.evaluations import EVALUATIONS
from fairseq_recipes.preprocessing.corpus import PipelineError
from fairseq_recipes.toy import eval_sets
from fairseq_recipes.toy.corpus import ToyWorld
from fairseq_recipes.toy.eval_sets import cli_main, write_eval_data
from fairseq_recipes.toy.lexicon import LANGS, render

SIZES = dict(train=120, dev=12, test=24)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy-eval") / "eval"
    dirs = write_eval_data(root, **SIZES)
    return root, dirs


def read(task, path, lang="en", split="test"):
    """A file read as recipes-finetune reads it (its task's ``read``)."""
    args = argparse.Namespace(evaluation=task, format=None, xsum_split_file="")
    return _read(args, str(path), lang, split)


def tree(root: Path) -> dict:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


def test_layout_is_the_one_the_finetune_scripts_expect(data):
    root, dirs = data
    assert dirs == {name: root / e.dataset_dir for name, e in EVALUATIONS.items()}
    assert [p.name for p in root.parent.iterdir()] == ["eval"]  # no temporary left
    expected = [
        "xnli/XNLI-1.0/xnli.dev.tsv",
        "xnli/XNLI-1.0/xnli.test.tsv",
        "xnli/XNLI-MT-1.0/multinli/multinli.train.en.tsv",
        "matis/train_EN.tsv",
        "matis/dev_EN.tsv",
        "panx/en/train",
        "panx/en/dev",
        "mtop/en/train.txt",
        "mtop/en/eval.txt",
        "xsum/XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json",
    ]
    for lang in LANGS:
        expected += [
            f"matis/test_{lang.upper()}.tsv",
            f"panx/{lang}/test",
            f"mtop/{lang}/test.txt",
        ]
        assert len(list(root.glob(f"ud/UD_*/{lang}_*-ud-test.conllu"))) == 1
    assert all((root / name).is_file() for name in expected), expected
    assert len(list(root.glob("ud/UD_*/en_*-ud-train.conllu"))) == 1
    assert len(list(root.glob("xsum/bbc-summary-data/*.summary"))) == sum(SIZES.values())


def _nli_rule(premise: str, hypothesis: str) -> str:
    """The label from the world's English frames: a fact of a kind the premise lacks is
    neutral, one whose words (value and name) the premise has is entailed."""
    p, h = set(premise.split()), set(hypothesis.split())
    cue = next(word for word in ("lives", "works", "years") if word in h)
    if cue not in p:
        return "neutral"
    return "entailment" if h <= p else "contradiction"


def test_xnli_balanced_parallel_and_decided_by_the_facts(data):
    root = data[0] / "xnli"
    train = read("xnli", root / "XNLI-MT-1.0/multinli/multinli.train.en.tsv")
    valid = read("xnli", root / "XNLI-1.0/xnli.dev.tsv", "en")
    assert (len(train), len(valid)) == (SIZES["train"], SIZES["dev"])
    tests = {lang: read("xnli", root / "XNLI-1.0/xnli.test.tsv", lang) for lang in LANGS}
    for lang, pairs in tests.items():
        assert len(pairs) == SIZES["test"] and {p.lang for p in pairs} == {lang}
        assert [p.label for p in pairs] == [p.label for p in tests["en"]]  # translations
    counts = Counter(p.label for p in train)
    assert set(counts) == {"entailment", "neutral", "contradiction"}
    assert max(counts.values()) - min(counts.values()) <= 1
    for pair in train + valid + tests["en"]:
        assert _nli_rule(pair.premise, pair.hypothesis) == pair.label, pair


def test_matis_intents_slots_and_a_keyword_baseline(data):
    root = data[0] / "matis"
    train = read("matis", root / "train_EN.tsv")
    assert len(train) == SIZES["train"] and len(read("matis", root / "dev_EN.tsv")) == 12
    intents = Counter(ex.intent for ex in train)
    assert len(intents) == 6 and min(intents.values()) >= SIZES["train"] // 6
    slots = {s for ex in train for s in ex.slots}
    assert {"B-person_name", "I-person_name", "B-city_name", "B-org_name", "O"} <= slots
    for lang in LANGS:
        test = read("matis", root / f"test_{lang.upper()}.tsv", lang)
        assert len(test) == SIZES["test"] and test[0].lang == lang
        check_labels(labels_of(train), test)  # zero-shot: every label seen in English
    # intent from the words: far above the 1/6 of chance
    by_word = {}
    for ex in train:
        for word in ex.words:
            by_word.setdefault(word, Counter())[ex.intent] += 1

    def guess(words):
        score = Counter()
        for word in words:
            seen = by_word.get(word, Counter())
            score.update({k: v / sum(seen.values()) for k, v in seen.items()})
        return score.most_common(1)[0][0] if score else ""

    test = read("matis", root / "test_EN.tsv")
    assert sum(guess(ex.words) == ex.intent for ex in test) / len(test) > 0.8


def test_panx_entities_in_every_language(data):
    root = data[0] / "panx"
    train = read("wikiann", root / "en/train")
    assert len(train) == SIZES["train"] and len(read("wikiann", root / "en/dev")) == 12
    for lang in LANGS:
        test = read("wikiann", root / lang / "test", lang)
        assert len(test) == SIZES["test"] and {s.lang for s in test} == {lang}
        tags = {tag for s in test for tag in s.tags}
        assert {"B-PER", "B-LOC", "B-ORG", "I-ORG", "O"} <= tags, lang
        assert all(any(tag != "O" for tag in s.tags) for s in test)
        check_labels(labels_of(train), test)


def _conllu_sentences(path):
    """(comments, rows) of each sentence of a CoNLL-U file."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    assert blocks[-1] == ""
    for block in blocks[:-1]:
        lines = block.split("\n")
        yield (
            [x for x in lines if x.startswith("#")],
            [x.split("\t") for x in lines if not x.startswith("#")],
        )


def test_ud_valid_conllu_and_a_word_tag_baseline(data):
    root = data[0] / "ud"
    (train_path,) = root.glob("UD_*/en_*-ud-train.conllu")
    train = read("udpos", train_path)
    assert len(train) == SIZES["train"]
    assert len({tag for s in train for tag in s.tags}) >= 8
    for lang in LANGS:
        (path,) = root.glob(f"UD_*/{lang}_*-ud-test.conllu")
        test = read("udpos", path, lang)
        assert len(test) == SIZES["test"] and test[0].lang == lang
        check_labels(labels_of(train), test)
        for comments, rows in _conllu_sentences(path):
            assert any(c.startswith("# sent_id = ") for c in comments)
            text = next(c[len("# text = ") :] for c in comments if c.startswith("# text"))
            assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
            assert [r[6] for r in rows].count("0") == 1 and all(
                len(r) == 10 for r in rows
            )
            spaced = "".join(
                r[1] + ("" if "SpaceAfter=No" in r[9] else " ") for r in rows
            )
            assert spaced.rstrip(" ") == text
    # the most frequent tag of each training word, the majority tag for unseen words
    by_word, counts = {}, Counter(tag for s in train for tag in s.tags)
    for s in train:
        for word, tag in zip(s.words, s.tags):
            by_word.setdefault(word, Counter())[tag] += 1
    test = read("udpos", next(root.glob("UD_*/en_*-ud-test.conllu")))
    pairs = [(w, t) for s in test for w, t in zip(s.words, s.tags)]
    majority = counts.most_common(1)[0][0]
    guessed = [
        by_word.get(w, Counter({majority: 1})).most_common(1)[0][0] for w, _ in pairs
    ]
    accuracy = sum(g == t for g, (_, t) in zip(guessed, pairs)) / len(pairs)
    assert (
        accuracy > 0.9
        and accuracy > sum(t == majority for _, t in pairs) / len(pairs) + 0.4
    )


def test_mtop_forms_round_trip_over_the_input_words(data):
    root = data[0] / "mtop"
    train = read("mtop", root / "en/train.txt", split="train")
    assert len(train) == SIZES["train"] and len(read("mtop", root / "en/eval.txt")) == 12
    assert len({ex.logical_form.split()[0] for ex in train}) == 6
    slots = {t for ex in train for t in ex.logical_form.split() if t.startswith("[SL:")}
    assert slots == {"[SL:NAME", "[SL:CITY", "[SL:ORG", "[SL:AGE"}
    ids = None
    for lang in LANGS:
        test = read("mtop", root / lang / "test.txt", lang)
        assert len(test) == SIZES["test"] and {ex.lang for ex in test} == {lang}
        for ex in test:
            words = iter(ex.words)  # slot words: a subsequence of the utterance
            assert all(w in words for w in ex.logical_form.split() if not is_structure(w))
            pointed = to_sentinels(ex.words, ex.logical_form).split()
            assert all(is_structure(t) or sentinel_index(t) is not None for t in pointed)
        lines = (root / lang / "test.txt").read_text(encoding="utf-8").splitlines()
        for line in lines:
            utterance, tokens = line.split("\t")[3], json.loads(line.split("\t")[7])
            for word, span in zip(tokens["tokens"], tokens["tokenSpans"]):
                # UTF-8 byte offsets, as in the released files
                start, end = span["start"], span["start"] + span["length"]
                assert utterance.encode("utf-8")[start:end] == word.encode("utf-8")
        assert ids in (None, [line.split("\t")[0] for line in lines])  # parallel
        ids = [line.split("\t")[0] for line in lines]


def test_xsum_summary_names_the_topic_person_whom_the_body_names(data):
    root = data[0] / "xsum/bbc-summary-data"
    names = [render("en", ToyWorld(0).entity(p, "en")) for p in ToyWorld(0).people]
    for split, n in (("train", 120), ("valid", 12), ("test", 24)):
        examples = read("xsum", root, split=split)
        assert len(examples) == n
        for ex in examples:
            (name,) = [name for name in names if ex.summary.startswith(name + " ")]
            assert name in ex.document and ex.summary not in ex.document
            assert len(ex.document.split(". ")) >= 5


def test_same_call_same_bytes_other_seed_other_data(tmp_path):
    small = dict(train=9, dev=3, test=3)
    write_eval_data(tmp_path / "a", **small)
    write_eval_data(tmp_path / "b", **small)
    write_eval_data(tmp_path / "c", seed=2, **small)
    a, b, c = tree(tmp_path / "a"), tree(tmp_path / "b"), tree(tmp_path / "c")
    assert a == b and len(a) == 8 * 12 + 3 + 15 + 1
    assert a.keys() == c.keys()
    assert a["panx/de/test"] != c["panx/de/test"]


def test_cli_refuses_an_existing_output_and_leaves_it_untouched(tmp_path, capsys):
    out = tmp_path / "eval"
    args = [
        "--output",
        str(out),
        "--langs",
        "en,ja",
        "--train",
        "6",
        "--dev",
        "3",
        "--test",
        "3",
    ]
    cli_main(args)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(EVALUATIONS)
    assert lines[0] == f"xnli: 18 examples -> {out / 'xnli'}"
    before = tree(out)
    with pytest.raises(SystemExit) as exit_:
        cli_main(args + ["--seed", "5"])
    assert exit_.value.code == 2
    assert "error: --output" in capsys.readouterr().err and tree(out) == before
    cli_main(args + ["--seed", "5", "--overwrite", "--tasks", "udpos"])
    assert sorted(p.name for p in out.iterdir()) == ["ud"]
    assert [p.name for p in tmp_path.iterdir()] == ["eval"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--train", "0"], "--train must be"),
        (["--tasks", "xnli,ner"], "--tasks: no task ner"),
        (["--langs", "en,xx"], "--langs: no toy language xx"),
        (["--langs", "fr"], "--langs must include en"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["--output", str(tmp_path / "eval"), *options])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "eval").exists()


def test_api_errors_name_the_option(tmp_path):
    for kwargs, option in (
        ({"test": 0}, "--test"),
        ({"tasks": []}, "--tasks"),
        ({"langs": ["en", "xx"]}, "--langs"),
    ):
        with pytest.raises(PipelineError, match=f"^{option}"):
            write_eval_data(tmp_path / "eval", **kwargs)
    (tmp_path / "eval").mkdir()
    with pytest.raises(PipelineError, match="^--output .* exists"):
        write_eval_data(tmp_path / "eval")
    dirs = write_eval_data(
        tmp_path / "eval",
        train=2,
        dev=1,
        test=1,
        tasks=["xnli"],
        langs=["en"],
        overwrite=True,
    )
    assert dirs == {"xnli": tmp_path / "eval" / "xnli"}


def test_an_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setitem(eval_sets.BUILDERS, "xsum", fail)
    with pytest.raises(KeyboardInterrupt):
        write_eval_data(tmp_path / "eval", train=3, dev=1, test=1)
    assert list(tmp_path.iterdir()) == []
