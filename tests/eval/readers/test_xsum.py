"""XSUM readers on small files in each of the three formats, and on the real ``.data``
samples in ../shared/data/xsum when present."""

import json
import logging

import pytest
from helpers import shared_data

from fairseq_recipes.eval.readers.examples import ReaderError
from fairseq_recipes.eval.readers.xsum import (
    SPLIT_FILE,
    Summary,
    read_source_target,
    read_split_ids,
    read_xsum,
    read_xsum_data_dir,
    read_xsum_release,
)


def _summary_file(
    directory,
    bbc_id,
    summary,
    paragraphs,
    marker="[SN]",
    summary_section="FIRST-SENTENCE",
):
    """A file laid out like the release's: header lines, a blank line between sections."""
    suffix = ".summary" if marker == "[SN]" else ".data"
    sections = [("URL", [f"http://www.bbc.co.uk/news/uk-{bbc_id}"])]
    if marker == "[SN]":
        sections.append(("TITLE", [f"Title {bbc_id}"]))
    sections += [(summary_section, [summary]), ("RESTBODY", paragraphs)]
    text = "\n".join(
        f"{marker}{name}{marker}\n" + "\n".join(lines) + "\n" for name, lines in sections
    )
    path = directory / f"{bbc_id}{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def _release(tmp_path, ids, split_ids):
    """``bbc-summary-data/`` with a ``.summary`` file per id, the split file beside it."""
    directory = tmp_path / "bbc-summary-data"
    directory.mkdir()
    for i in ids:
        _summary_file(directory, i, f"Summary {i}.", [f"First {i}.", "", f"Second {i}."])
    split_file = tmp_path / SPLIT_FILE
    split_file.write_text(json.dumps({"train": [], "validation": ["1"], **split_ids}))
    return directory, split_file


def test_release_split_with_missing_ids_counted(tmp_path, caplog):
    directory, split_file = _release(
        tmp_path, ["10", "11", "12"], {"test": ["12", "99", "10", "98"]}
    )
    with caplog.at_level(logging.WARNING):
        examples, missing = read_xsum_release(directory, split_file, "test")
    assert [e.id for e in examples] == ["12", "10"]  # the split file's order
    assert missing == ["99", "98"]
    assert examples[0] == Summary(
        document="First 12. Second 12.",
        summary="Summary 12.",
        id="12",
        source=str(directory / "12.summary"),
    )
    assert f"{split_file}: 2 of 4 test ids have no .summary file in {directory}" in (
        caplog.text
    )
    assert "(e.g. 99, 98)" in caplog.text


def test_release_all_missing_is_an_error(tmp_path):
    directory, split_file = _release(tmp_path, ["10"], {"test": ["98", "99"]})
    with pytest.raises(ReaderError, match=f"^{split_file}: none of the 2 test ids"):
        read_xsum_release(directory, split_file, "test")


def test_valid_is_validation(tmp_path):
    directory, split_file = _release(tmp_path, ["1"], {"test": ["1"]})
    examples, missing = read_xsum_release(directory, split_file, "valid")
    assert [e.id for e in examples] == ["1"] and missing == []


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", r":1: not JSON"),
        ('{"train": [], "validation": []}', r": no 'test' key"),
        ('{"test": "123"}', r": 'test' is not a list of ids"),
        ('{"test": []}', r": 'test' has no ids"),
    ],
)
def test_split_file_errors_name_it(tmp_path, content, message):
    split_file = tmp_path / SPLIT_FILE
    split_file.write_text(content)
    with pytest.raises(ReaderError, match=f"^{split_file}{message}"):
        read_split_ids(split_file, "test")
    with pytest.raises(ReaderError, match="unknown split 'dev'"):
        read_split_ids(split_file, "dev")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[SN]URL[SN]\nx\n\n[SN]RESTBODY[SN]\nbody\n",
            r": no \[SN\]FIRST-SENTENCE\[SN\] section",
        ),
        (
            "[SN]FIRST-SENTENCE[SN]\nsum\n\n[SN]RESTBODY[SN]\n\n",
            r":4: empty \[SN\]RESTBODY\[SN\] section",
        ),
        (
            "[SN]FIRST-SENTENCE[SN]\nsum\n[SN]FIRST-SENTENCE[SN]\nagain\n",
            r":3: second \[SN\]FIRST-SENTENCE\[SN\] section",
        ),
        ("stray\n[SN]FIRST-SENTENCE[SN]\nsum\n", r":1: text before the first"),
    ],
)
def test_bad_summary_file_names_path_and_line(tmp_path, text, message):
    directory, split_file = _release(tmp_path, [], {"test": ["5"]})
    path = directory / "5.summary"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReaderError, match=f"^{path}{message}"):
        read_xsum_release(directory, split_file, "test")


def test_data_dir_all_files_or_a_split(tmp_path):
    for i in ["30", "20", "10"]:
        _summary_file(
            tmp_path,
            i,
            f"Intro {i}.",
            [f"Body {i}.", f"More {i}."],
            marker="[XSUM]",
            summary_section="INTRODUCTION",
        )
    examples, missing = read_xsum_data_dir(tmp_path)
    assert [e.id for e in examples] == ["10", "20", "30"] and missing == []
    assert (
        examples[1].summary == "Intro 20." and examples[1].document == "Body 20. More 20."
    )
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps({"test": ["30", "40"]}))
    examples, missing = read_xsum_data_dir(tmp_path, split_file, "test")
    assert [e.id for e in examples] == ["30"] and missing == ["40"]
    with pytest.raises(ReaderError, match=r"no \*\.data files"):
        read_xsum_data_dir(tmp_path / "nothing")


def test_data_file_without_introduction(tmp_path):
    path = _summary_file(
        tmp_path,
        "1",
        "Intro.",
        ["Body."],
        marker="[XSUM]",
        summary_section="FIRST-SENTENCE",
    )
    with pytest.raises(ReaderError, match=rf"^{path}: no \[XSUM\]INTRODUCTION\[XSUM\]"):
        read_xsum_data_dir(tmp_path)


def _source_target(tmp_path, documents, summaries, name="test"):
    prefix = tmp_path / name
    prefix.with_suffix(".source").write_text("".join(f"{d}\n" for d in documents))
    prefix.with_suffix(".target").write_text("".join(f"{s}\n" for s in summaries))
    return prefix


def test_source_target(tmp_path):
    prefix = _source_target(tmp_path, ["doc one", "doc two"], ["sum one", "sum two"])
    examples = read_source_target(prefix)
    assert examples[1] == Summary("doc two", "sum two", "2", f"{prefix}.source:2")


def test_source_target_count_mismatch_names_both(tmp_path):
    prefix = _source_target(tmp_path, ["a", "b", "c"], ["x", "y"])
    with pytest.raises(
        ReaderError, match=f"^{prefix}.source: 3 lines, but " f"{prefix}.target has 2$"
    ):
        read_source_target(prefix)


@pytest.mark.parametrize(
    "documents, summaries, message",
    [
        (["a", " ", "c"], ["x", "y", "z"], r".source:2: empty document"),
        (["a", "b"], ["x", ""], r".target:2: empty summary"),
    ],
)
def test_source_target_empty_lines(tmp_path, documents, summaries, message):
    prefix = _source_target(tmp_path, documents, summaries)
    with pytest.raises(ReaderError, match=f"^{prefix}{message}"):
        read_source_target(prefix)


def test_dispatcher_picks_each_format(tmp_path):
    directory, _ = _release(tmp_path, ["10", "11"], {"test": ["11", "12"]})
    assert [e.id for e in read_xsum(directory)] == ["11"]  # split file next to it
    with pytest.raises(ReaderError, match="none of the 1 validation ids"):
        read_xsum(directory, split="validation")

    data = tmp_path / "data"
    data.mkdir()
    _summary_file(
        data, "7", "Intro.", ["Body."], marker="[XSUM]", summary_section="INTRODUCTION"
    )
    assert [(e.id, e.summary) for e in read_xsum(data)] == [("7", "Intro.")]

    pairs = tmp_path / "pairs"
    pairs.mkdir()
    prefix = _source_target(pairs, ["doc"], ["sum"])
    for path in (prefix, f"{prefix}.source", pairs):  # prefix, .source, {split} in dir
        assert [e.summary for e in read_xsum(path, split="test")] == ["sum"]

    with pytest.raises(ReaderError, match="not an XSUM directory"):
        read_xsum(tmp_path / "nowhere")


def test_dispatcher_needs_the_split_file(tmp_path):
    directory = tmp_path / "bbc-summary-data"
    directory.mkdir()
    _summary_file(directory, "1", "Summary.", ["Body."])
    with pytest.raises(
        ReaderError, match=f"^{directory}: no {SPLIT_FILE} inside or next"
    ):
        read_xsum(directory)
    split_file = tmp_path / "elsewhere.json"
    split_file.write_text(json.dumps({"test": ["1"]}))
    assert [e.id for e in read_xsum(directory, split_file=split_file)] == ["1"]


def test_real_data_samples():
    root = shared_data()
    directory = root / "xsum" / "xsum-extracts-from-downloads_Filtered" if root else None
    if directory is None or not directory.is_dir():
        pytest.skip("../shared/data/xsum is not present")
    examples = read_xsum(directory)
    assert len(examples) == 20
    assert [e.id for e in examples] == sorted(p.stem for p in directory.glob("*.data"))
    first = examples[0]
    assert first.id == "29604402" and first.source == str(directory / "29604402.data")
    assert first.summary == (
        "The winner of the Man Booker Prize is announced later with British author Neel "
        "Mukherjee the bookies' favourite to take the £50,000 prize."
    )
    assert first.document.startswith(
        "Mukherjee's The Lives Of Others, a sweeping account"
    )
    assert first.document.endswith(
        "on the BBC News Channel from 2130 BST and on BBC Arts."
    )
    assert "\n" not in first.document
    paragraphs = (
        (directory / "29604402.data")
        .read_text(encoding="utf-8")
        .split("[XSUM]RESTBODY[XSUM]\n")[1]
        .strip()
        .splitlines()
    )
    assert first.document == " ".join(p.strip() for p in paragraphs)
    assert all(e.document and e.summary and "\n" not in e.summary for e in examples)
