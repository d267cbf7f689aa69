"""UDPOS as XTREME builds it, on the real treebanks of ../shared/data/ud: every treebank
of a language merged per split in file-name order, a treebank without word forms skipped
with a notice, and XTREME's processed two-column files read directly."""

import pytest
from helpers import shared_data, ud_release

from fairseq_recipes import paper
from fairseq_recipes.eval.finetune import _read, build_parser
from fairseq_recipes.eval.layouts import task_files
from fairseq_recipes.eval.readers import udpos


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    shared = shared_data()
    if shared is None:
        pytest.skip("../shared/data is not present")
    return ud_release(tmp_path_factory.mktemp("ud") / "ud-treebanks", shared / "ud")


def _args(*options):
    return build_parser().parse_args(
        [
            "--checkpoint",
            "x",
            "--evaluation",
            "udpos",
            "--data",
            "x",
            "--output",
            "x",
            *options,
        ]
    )


def test_each_language_is_the_sum_of_its_treebanks_in_file_name_order(release, capsys):
    files = task_files("udpos", release)
    assert list(files.tests) == list(paper.LANGUAGES) and files.options == []
    args = _args(*files.options)
    for lang, pattern in files.tests.items():
        merged = _read(args, pattern, lang, "test")
        treebanks = sorted(
            release.glob(f"*/{lang}_*-ud-test*.conllu"), key=lambda p: p.name
        )
        parts = []
        for path in treebanks:
            try:
                parts += udpos.read_conllu(path)
            except udpos.ReaderError:  # a treebank without word forms: skipped
                assert path.name == "ar_formless-ud-test.conllu"
        assert [s.source for s in merged] == [s.source for s in parts], lang
        assert {s.lang for s in merged} == {lang}
    # English: the test-only treebank (en_copy) before en_ewt, 400 sentences each
    english = _read(args, files.tests["en"], "en", "test")
    assert len(english) == 800
    assert english[0].source.startswith(str(release / "UD_English-Copy"))
    assert english[400].source.startswith(str(release / "UD_English-EWT"))
    # Arabic: PUD's 400; the treebank without forms is named once, and skipped
    assert len(_read(args, files.tests["ar"], "ar", "test")) == 400
    err = capsys.readouterr().err
    assert err.count("notice: ") == 1
    assert "UD_Arabic-Formless/ar_formless-ud-test.conllu: no word forms" in err
    # only EWT has English training and development sets
    assert len(_read(args, files.train, "en", "train")) == 2000
    assert len(_read(args, files.valid, "en", "dev")) == 400


def test_a_language_left_without_test_sentences_is_an_error_naming_it(release, tmp_path):
    root = tmp_path / "ud"
    root.mkdir()
    for name in ("UD_English-EWT", "UD_Arabic-Formless"):
        (root / name).symlink_to(release / name, target_is_directory=True)
    files = task_files("udpos", root)
    assert list(files.tests) == ["ar", "en"]
    with pytest.raises(udpos.ReaderError, match="no ar sentence with word forms"):
        _read(_args(), files.tests["ar"], "ar", "test")


def test_xtremes_processed_files_are_read_directly(release, tmp_path):
    """XTREME's utils_preprocess.py output: {split}-{lang}.tsv, word<TAB>UPOS lines and a
    blank line after each sentence (written here from the merged treebanks)."""
    merged = task_files("udpos", release, ["en", "de", "hi"])
    processed = tmp_path / "udpos"
    processed.mkdir()
    sets = {
        "train-en": merged.train,
        "dev-en": merged.valid,
        **{f"test-{lang}": p for lang, p in merged.tests.items()},
    }
    expected = {}
    for name, pattern in sets.items():
        expected[name] = udpos.read_conllu(pattern, name.split("-")[1])
        text = "".join(
            "".join(f"{w}\t{t}\n" for w, t in zip(s.words, s.tags)) + "\n"
            for s in expected[name]
        )
        (processed / f"{name}.tsv").write_text(text.rstrip("\n"), encoding="utf-8")
    files = task_files("udpos", processed, ["en", "de", "hi"])
    assert files.options == ["--format", "two-column"]
    assert files.train == str(processed / "train-en.tsv")
    args = _args()
    files.apply(args)  # as recipes-finetune --eval-data does
    assert args.format == "two-column"
    for name, path in [("train-en", files.train), ("dev-en", files.valid)] + [
        (f"test-{lang}", p) for lang, p in files.tests.items()
    ]:
        got = _read(args, path, name.split("-")[1], name.split("-")[0])
        assert [(s.words, s.tags) for s in got] == [
            (s.words, s.tags) for s in expected[name]
        ]
