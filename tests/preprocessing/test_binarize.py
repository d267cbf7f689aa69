import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fairseq.data.indexed_dataset import MMapIndexedDataset

from fairseq_recipes.data.sampling import sampling_probabilities
from fairseq_recipes.preprocessing import binarize
from fairseq_recipes.preprocessing.binarize import (
    build_parser,
    cli_main,
    encode_language,
    preprocess,
)
from fairseq_recipes.preprocessing.corpus import (
    PipelineError,
    ReadStats,
    discover_inputs,
    iter_documents,
)
from fairseq_recipes.preprocessing.manifest import data_path, read_manifest, valid_subsets
from fairseq_recipes.preprocessing.ud_text import extract, iter_ud_documents
from fairseq_recipes.preprocessing.vocab import SpmTokenizer, load_dictionary
from fairseq_recipes.toy.corpus import write_corpus

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT / ".." / "shared" / "data"


def run(input_dir, output, *extra):
    """The pipeline in-process, with test-sized defaults."""
    argv = ["--input", str(input_dir), "--output", str(output), "--vocab-size", "500"]
    return preprocess(build_parser().parse_args(argv + [str(x) for x in extra]))


def items(prefix):
    return [np.asarray(t) for t in MMapIndexedDataset(str(prefix))]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A 3-language toy corpus, binarized into 3 shards by 2 worker processes."""
    root = tmp_path_factory.mktemp("toy")
    write_corpus(root / "raw", langs=("en", "hi", "ja"), docs_per_lang=25, seed=5)
    run(root / "raw", root / "out", "--num-shards", 3, "--valid-docs", 4, "--workers", 2)
    return root / "raw", root / "out"


def test_shards_and_valid_hold_every_document_once_in_order(toy):
    raw, out = toy
    encoder = SpmTokenizer(out / "spm.model", out / "dict.txt")
    for lang in ("en", "hi", "ja"):
        expected = [encoder.encode(doc) for doc in iter_documents(raw / f"{lang}.txt")]
        train, valid = expected[:-4], expected[-4:]
        for k in range(3):
            got = items(out / f"shard{k}" / lang / "train")
            assert len(got) == len(train[k::3])
            assert all(np.array_equal(a, b) for a, b in zip(got, train[k::3]))
        got = items(out / "shard0" / lang / "valid")
        assert all(np.array_equal(a, b) for a, b in zip(got, valid)) and len(got) == 4
        for k in (1, 2):
            assert not (out / f"shard{k}" / lang / "valid.idx").exists()


def test_manifest_numbers(toy):
    raw, out = toy
    manifest = read_manifest(out)
    assert manifest["languages"] == ["en", "hi", "ja"]
    assert manifest["shards"] == ["shard0", "shard1", "shard2"]
    assert manifest["vocab_size"] == len(load_dictionary(out / "dict.txt"))
    train_tokens = []
    for lang in manifest["languages"]:
        stats = manifest["per_language"][lang]
        shards = [items(out / f"shard{k}" / lang / "train") for k in range(3)]
        assert stats["shard_documents"] == [len(s) for s in shards]
        assert stats["shard_tokens"] == [sum(map(len, s)) for s in shards]
        assert stats["train_documents"] == 21 and stats["valid_documents"] == 4
        assert stats["documents"] == 25 and stats["invalid_utf8_lines"] == 0
        assert stats["train_tokens"] == sum(stats["shard_tokens"])
        assert stats["valid_tokens"] == sum(
            map(len, items(out / "shard0" / lang / "valid"))
        )
        train_tokens.append(stats["train_tokens"])
    expected = sampling_probabilities(train_tokens, 0.3)
    np.testing.assert_allclose(
        list(manifest["sampling_probabilities"].values()), expected, atol=1e-6
    )
    for k in range(3):
        assert (out / f"shard{k}" / "dict.txt").read_bytes() == (
            out / "dict.txt"
        ).read_bytes()
    assert valid_subsets(out) == ["valid_en", "valid_hi", "valid_ja"]
    assert data_path(out) == ":".join(str(out / f"shard{k}") for k in range(3))
    assert not list(out.parent.glob("out.tmp-*"))


def test_same_output_for_any_worker_count(toy, tmp_path):
    raw, _ = toy
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        run(raw, out, "--langs", "ja,en", "--workers", workers, "--valid-docs", 3)
    files = sorted(p.relative_to(tmp_path / "w1") for p in (tmp_path / "w1").rglob("*"))
    assert files == sorted(
        p.relative_to(tmp_path / "w2") for p in (tmp_path / "w2").rglob("*")
    )
    assert read_manifest(tmp_path / "w1")["languages"] == ["en", "ja"]
    for f in files:
        if f.suffix in (".bin", ".idx", ".txt", ".model"):
            assert (tmp_path / "w1" / f).read_bytes() == (
                tmp_path / "w2" / f
            ).read_bytes()


def test_gz_and_jsonl_inputs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    with gzip.open(raw / "en.txt.gz", "wt", encoding="utf-8") as f:
        f.write("One line.\nSame document.\n\n\n\nSecond document.\n")
    docs = [{"text": "Premier  document.\nDeux lignes."}, {"text": "Deuxième."}]
    with gzip.open(raw / "fr.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(d) for d in docs) + "\n\n")
    (raw / "de.jsonl").write_text(
        '{"text": "Ein Dokument.", "id": 1}\n{"text": "Noch eins."}\n', encoding="utf-8"
    )
    (raw / "README.md").write_text("not an input")
    assert list(iter_documents(raw / "en.txt.gz")) == [
        "One line. Same document.",
        "Second document.",
    ]
    assert list(iter_documents(raw / "fr.jsonl.gz")) == [
        "Premier document. Deux lignes.",
        "Deuxième.",
    ]
    manifest = run(raw, tmp_path / "out", "--valid-docs", 1, "--vocab-size", 60)
    per_lang = manifest["per_language"]
    assert {lang: s["documents"] for lang, s in per_lang.items()} == {
        "de": 2,
        "en": 2,
        "fr": 2,
    }
    assert all(s["valid_documents"] == 1 for s in per_lang.values())
    assert {s["source"] for s in per_lang.values()} == {
        "de.jsonl",
        "en.txt.gz",
        "fr.jsonl.gz",
    }


def test_invalid_utf8_lines_are_skipped_and_counted(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    # a few broken lines among many good ones, as in web text (a high share is refused)
    (raw / "en.txt").write_bytes(
        b"Good line.\n\xff\xfe bad line\nMore text.\n\nAnother \xc3\x28 bad\n\nLast one.\n"
        + b"\n"
        + b"A good line.\n" * 20
    )
    stats = ReadStats()
    assert list(iter_documents(raw / "en.txt", stats)) == [
        "Good line. More text.",
        "Last one.",
        " ".join(["A good line."] * 20),
    ]
    assert (stats.documents, stats.invalid_utf8_lines) == (3, 2)
    cli_main(
        ["--input", str(raw), "--output", str(tmp_path / "out"), "--vocab-size", "100"]
    )
    assert (
        read_manifest(tmp_path / "out")["per_language"]["en"]["invalid_utf8_lines"] == 2
    )
    assert "skipped 2 invalid UTF-8 lines (en: 2)" in capsys.readouterr().out


def test_existing_output_is_refused_and_kept(toy, tmp_path):
    raw, _ = toy
    out = tmp_path / "out"
    run(raw, out, "--valid-docs", 2)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(PipelineError, match="--overwrite"):
        run(raw, out, "--valid-docs", 3)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    run(raw, out, "--valid-docs", 3, "--overwrite")
    assert read_manifest(out)["per_language"]["en"]["valid_documents"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no leftovers
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(PipelineError, match="not a recipes-preprocess output"):
        run(raw, precious, "--overwrite")
    assert (precious / "keep.txt").read_text() == "mine"


def test_interrupted_run_leaves_output_untouched(toy, tmp_path, monkeypatch):
    raw, _ = toy
    out = tmp_path / "out"
    run(raw, out, "--valid-docs", 2)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []

    def interrupted(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # as Ctrl-C (or SIGTERM, see cli_main) mid-way
        calls.append(args)
        return encode_language(*args, **kwargs)

    monkeypatch.setattr(binarize, "encode_language", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(raw, out, "--valid-docs", 3, "--overwrite")
    assert calls  # it did get half-way
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_input_errors(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    with pytest.raises(PipelineError, match="no input files"):
        discover_inputs(raw)
    (raw / "en.txt").write_text("a\n")
    (raw / "en.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(PipelineError, match="two files for language 'en'"):
        discover_inputs(raw)
    (raw / "en.jsonl").unlink()
    with pytest.raises(PipelineError, match="--langs: no input file for fr"):
        discover_inputs(raw, ["en", "fr"])
    (raw / "fr.jsonl").write_text('{"text": "ok"}\n{"text": "ok"}\n{"txt": "no"}\n')
    with pytest.raises(PipelineError, match=r"fr\.jsonl:3: malformed JSONL"):
        list(iter_documents(raw / "fr.jsonl"))
    with pytest.raises(PipelineError, match="single document"):
        run(raw, tmp_path / "out", "--langs", "en")
    with pytest.raises(PipelineError, match="--num-shards 2"):
        run(raw, tmp_path / "out", "--langs", "en", "--valid-docs", 0, "--num-shards", 2)
    assert not (tmp_path / "out").exists()


def test_bad_input_exits_2_with_one_line_error(tmp_path):
    """Run as a user would: a subprocess per case, all started at once (imports are slow)."""
    empty, corrupt = tmp_path / "empty", tmp_path / "corrupt"
    for directory in (empty, corrupt):
        directory.mkdir()
        (directory / "en.txt").write_text("Some text.\n\nMore text.\n")
    (empty / "fr.txt").write_text("\n\n   \n")
    (tmp_path / "bad.model").write_bytes(b"not a sentencepiece model")
    cases = {
        "missing": (["--input", str(tmp_path / "nope")], "nope: no such directory"),
        "empty": (["--input", str(empty)], "fr.txt: no text"),
        "corrupt": (
            ["--input", str(corrupt), "--spm-model", str(tmp_path / "bad.model")],
            "bad.model: not a valid SentencePiece model",
        ),
    }
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    running = {
        name: subprocess.Popen(
            [sys.executable, str(ROOT / "preprocess" / "prepare_pretraining.py")]
            + argv
            + ["--output", str(tmp_path / f"out-{name}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, (argv, _) in cases.items()
    }
    for name, process in running.items():
        _, stderr = process.communicate(timeout=120)
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert process.returncode == 2, (name, stderr)
        assert len(errors) == 1 and cases[name][1] in errors[0], (name, stderr)
        assert "Traceback" not in stderr
        assert not (tmp_path / f"out-{name}").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.model", "corrupt", "empty"]


def test_ud_text_documents(tmp_path):
    conllu = tmp_path / "xx_test-ud-test.conllu"
    sentence = "# sent_id = {0}\n# text = Sentence {0}.\n1\tSentence\t_\n\n"
    conllu.write_text("".join(sentence.format(i) for i in range(25)))
    assert [len(d) for d in iter_ud_documents(conllu, sentences_per_doc=10)] == [
        10,
        10,
        5,
    ]
    with_docs = tmp_path / "yy_test-ud-test.conllu"
    with_docs.write_text(
        "# newdoc id = a\n"
        + sentence.format(1)
        + sentence.format(2)
        + "# newdoc id = b\n"
        + sentence.format(3)
    )
    assert list(iter_ud_documents(with_docs)) == [
        ["Sentence 1.", "Sentence 2."],
        ["Sentence 3."],
    ]
    counts = extract([tmp_path], tmp_path / "txt")
    assert counts == {
        "xx": {"documents": 3, "sentences": 25},
        "yy": {"documents": 2, "sentences": 3},
    }
    assert list(iter_documents(tmp_path / "txt" / "yy.txt")) == [
        "Sentence 1. Sentence 2.",
        "Sentence 3.",
    ]
    with pytest.raises(PipelineError, match="--overwrite"):
        extract([tmp_path / "xx_test-ud-test.conllu"], tmp_path / "txt")


def test_real_ud_text_through_the_pipeline(tmp_path):
    ud = SHARED_DATA / "ud"
    if not ud.is_dir():
        pytest.skip(f"{ud} not present")
    counts = extract([ud], tmp_path / "txt")
    assert len(counts) == 12 and all(c["sentences"] > 40 for c in counts.values())
    manifest = run(
        tmp_path / "txt",
        tmp_path / "out",
        "--vocab-size",
        2000,
        "--valid-docs",
        5,
        "--spm-sample-size",
        5000,
        "--workers",
        2,
    )
    per_lang = manifest["per_language"]
    assert sorted(per_lang) == sorted(counts)
    for lang, stats in per_lang.items():
        assert stats["documents"] == counts[lang]["documents"]
        # at most all documents but one are held out (mr: 47 sentences, 5 documents)
        assert stats["valid_documents"] == min(5, stats["documents"] - 1)
        assert stats["train_tokens"] > 0 and stats["valid_tokens"] > 0, lang
    assert abs(sum(manifest["sampling_probabilities"].values()) - 1) < 1e-5
    # low-resource languages (mr has 47 sentences) are up-sampled relative to en
    shares = {lang: s["train_tokens"] for lang, s in per_lang.items()}
    total = sum(shares.values())
    p = manifest["sampling_probabilities"]
    assert p["mr"] > shares["mr"] / total and p["en"] < shares["en"] / total
    encoder = SpmTokenizer(tmp_path / "out" / "spm.model", tmp_path / "out" / "dict.txt")
    first = next(iter_documents(tmp_path / "txt" / "hi.txt"))
    decoded = encoder.decode(items(tmp_path / "out" / "shard0" / "hi" / "train")[0])
    assert decoded.split() == first.split()


def test_dictionary_size_pads_the_dictionary_the_data_and_the_manifest_agree(tmp_path):
    write_corpus(tmp_path / "raw", langs=("en", "hi"), docs_per_lang=12, seed=2)
    manifest = run(
        tmp_path / "raw", tmp_path / "out", "--valid-docs", 2, "--dictionary-size", 70_000
    )
    dictionary = load_dictionary(tmp_path / "out" / "dict.txt")
    assert manifest["vocab_size"] == len(dictionary) == 70_000
    assert manifest["dictionary_padding"] == 70_000 - manifest["spm"]["pieces"] - 256
    # over 65,535 entries the token ids no longer fit uint16: fairseq stores 32 bits
    train = MMapIndexedDataset(str(tmp_path / "out" / "shard0" / "en" / "train"))
    assert np.dtype(train._index.dtype).itemsize == 4
    with pytest.raises(PipelineError, match="--dictionary-size 100: "):
        run(tmp_path / "raw", tmp_path / "small", "--dictionary-size", 100)
