"""Fine-tuning readers on small files in each real format, and on the real samples in
../shared/data when present."""

from collections import Counter

import pytest
from helpers import XNLI_HEADER, shared_data, xnli_row

from fairseq_recipes.eval.readers import matis, panx, udpos, xnli
from fairseq_recipes.eval.readers.examples import ReaderError, check_labels, labels_of


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_xnli_by_header_name_with_quotes_as_text(tmp_path):
    path = _write(
        tmp_path / "xnli.test.tsv",
        [
            XNLI_HEADER,
            xnli_row("en", "entailment", 'He said "yes', "He agreed."),
            xnli_row("de", "contradiction", "Er kam.", 'Er kam "nie".'),
        ],
    )
    pairs = xnli.read_xnli(path)
    assert [(p.lang, p.label) for p in pairs] == [
        ("en", "entailment"),
        ("de", "contradiction"),
    ]
    assert pairs[0].premise == 'He said "yes' and pairs[1].hypothesis == 'Er kam "nie".'
    assert pairs[1].source == f"{path}:3"
    assert [p.lang for p in xnli.read_xnli(path, langs=["de"])] == ["de"]
    with pytest.raises(ReaderError, match="no rows for language fr"):
        xnli.read_xnli(path, langs=["fr"])


def test_multinli_contradictory_is_contradiction(tmp_path):
    path = _write(
        tmp_path / "multinli.train.en.tsv",
        [
            "premise\thypo\tlabel",
            "A man sleeps.\tA man is awake.\tcontradictory",
            "A man sleeps.\tSomeone rests.\tentailment",
        ],
    )
    assert [p.label for p in xnli.read_multinli(path)] == ["contradiction", "entailment"]


@pytest.mark.parametrize(
    "lines, message",
    [
        (["premise\thypo\tlabel", "a\tb\tmaybe"], r":2: label 'maybe' is none of"),
        (
            ["premise\thypo\tlabel", "a\tb"],
            r":2: 2 tab-separated fields, the header has 3",
        ),
        (["premise\tlabel", "a\tneutral"], r":1: header has no column 'hypo'"),
        ([], r":1: empty file"),
    ],
)
def test_xnli_errors_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "bad.tsv"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    with pytest.raises(ReaderError, match=f"^{path}{message}"):
        xnli.read_multinli(path)


def test_matis_slots_intents_and_language(tmp_path):
    path = _write(
        tmp_path / "test_DE.tsv",
        [
            "id\tutterance\tslot_labels\tintent",
            "1\tflüge nach boston\tO O B-toloc.city_name\tatis_flight",
            "2\tpreise und flüge\tO O O\tatis_airfare#atis_flight",
        ],
    )
    utterances = matis.read_matis(path)
    assert utterances[0].lang == "de"
    assert utterances[0].slots == ("O", "O", "B-toloc.city_name")
    assert utterances[1].intent == "atis_airfare#atis_flight"  # one joined label
    bad = _write(
        tmp_path / "dev_EN.tsv",
        ["id\tutterance\tslot_labels\tintent", "7\tto boston\tO\tatis_flight"],
    )
    with pytest.raises(ReaderError, match=f"^{bad}:2: 1 slot labels for 2 words"):
        matis.read_matis(bad)
    with pytest.raises(ReaderError, match="expected a MultiATIS"):
        matis.read_matis(tmp_path / "atis.tsv")


def test_panx_prefix_ends_at_the_first_colon(tmp_path):
    path = _write(
        tmp_path / "train",
        ["en:http://a.org:80\tO", "en:Paris\tB-LOC", "", "en::\tO", "en:Ada\tB-PER"],
    )
    sentences = panx.read_panx(path)
    assert sentences[0].words == ("http://a.org:80", "Paris")
    assert sentences[0].tags == ("O", "B-LOC") and sentences[0].lang == "en"
    assert sentences[1].words == (":", "Ada") and sentences[1].source == f"{path}:4"


@pytest.mark.parametrize(
    "line, message",
    [
        ("en:Paris\tB-CITY", "tag 'B-CITY' is not IOB2"),
        ("Paris\tO", "expected 'lang:token<TAB>TAG'"),
        ("en:Paris O", "expected 'lang:token<TAB>TAG'"),
    ],
)
def test_panx_errors_name_file_and_line(tmp_path, line, message):
    path = _write(tmp_path / "dev", ["en:A\tO", line])
    with pytest.raises(ReaderError, match=f"^{path}:2: {message}"):
        panx.read_panx(path)


CONLLU = """# sent_id = 1
# text = Il parle du chat.
1\tIl\til\tPRON\t_\t_\t2\tnsubj\t_\t_
2\tparle\tparler\tVERB\t_\t_\t0\troot\t_\t_
3-4\tdu\t_\t_\t_\t_\t_\t_\t_\t_
3\tde\tde\tADP\t_\t_\t5\tcase\t_\t_
4\tle\tle\tDET\t_\t_\t5\tdet\t_\t_
5\tchat\tchat\tNOUN\t_\t_\t2\tobl\t_\t_
5.1\tvu\tvoir\tVERB\t_\t_\t_\t_\t2:conj\t_
6\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_

1-2\tvámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tvamos\tir\tVERB\t_\t_\t0\troot\t_\t_
2\tnos\tnosotros\tPRON\t_\t_\t1\tobj\t_\t_
3\tya\tya\tADV\t_\t_\t1\tadvmod\t_\t_

"""


def test_conllu_fused_form_replaces_its_words_as_xtreme_does(tmp_path):
    path = tmp_path / "fr_toy-ud-test.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    first, second = udpos.read_conllu(path)
    # de/le at equal depth: French precedence puts ADP first; the empty node is skipped
    assert first.words == ("Il", "parle", "du", "chat", ".")
    assert first.tags == ("PRON", "VERB", "ADP", "NOUN", "PUNCT")
    # the span's single highest word (vamos, the root) is its head
    assert second.words == ("vámonos", "ya") and second.tags == ("VERB", "ADV")
    assert first.lang == "fr" and first.source == f"{path}:3"


def _conllu(rows):
    """CoNLL-U text of sentences given as (ID, FORM, UPOS, HEAD, DEPS) rows."""
    out = []
    for sentence in rows:
        for ident, form, tag, head, deps in sentence:
            out.append(f"{ident}\t{form}\t_\t{tag}\t_\t_\t{head}\t_\t{deps}\t_")
        out.append("")
    return "\n".join(out) + "\n"


def test_fused_form_head_counts_the_enhanced_heads_as_xtreme_does(tmp_path):
    # ud-conversion-tools builds one graph of the basic and the enhanced (DEPS) heads:
    # "I" is also the subject of "leave" (xsubj), so it has more ancestors than "'m"
    path = tmp_path / "en_toy-ud-test.conllu"
    path.write_text(
        _conllu(
            [
                [
                    ("1-2", "I'm", "_", "_", "_"),
                    ("1", "I", "PRON", "3", "3:nsubj|5:nsubj:xsubj"),
                    ("2", "'m", "AUX", "3", "3:aux"),
                    ("3", "going", "VERB", "0", "0:root"),
                    ("4", "to", "PART", "5", "5:mark"),
                    ("5", "leave", "VERB", "3", "3:xcomp"),
                ]
            ]
        ),
        encoding="utf-8",
    )
    (sentence,) = udpos.read_conllu(path)
    assert sentence.words == ("I'm", "going", "to", "leave")
    assert sentence.tags == ("AUX", "VERB", "PART", "VERB")
    # without the enhanced edge the two tie and the precedence list puts PRON first
    path.write_text(path.read_text().replace("|5:nsubj:xsubj", ""), encoding="utf-8")
    assert udpos.read_conllu(path)[0].tags[0] == "PRON"


def test_sentences_without_forms_are_dropped_as_xtreme_drops_them(tmp_path, capsys):
    def sentence(*forms):
        return [
            (str(i), f, "NOUN", "0" if i == 1 else "1", "_")
            for i, f in enumerate(forms, start=1)
        ]

    path = tmp_path / "en_toy-ud-test.conllu"
    path.write_text(
        _conllu(
            [
                sentence("_", "_", "c"),  # all but one withheld: dropped
                sentence("a", "_", "c"),  # kept, "_" and all
                sentence("_"),  # dropped
                sentence("a"),
            ]
        ),
        encoding="utf-8",
    )
    kept = udpos.read_conllu(path)
    assert [s.words for s in kept] == [("a", "_", "c"), ("a",)]
    assert "2 of 4 sentences without word forms dropped" in capsys.readouterr().err


def test_a_pattern_merges_every_treebank_in_file_name_order(tmp_path, capsys):
    def treebank(folder, name, words):
        path = tmp_path / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_conllu([[("1", w, "NOUN", "0", "_")] for w in words]))
        return path

    # folders sort the other way round: XTREME reads in file-name order
    treebank("UD_Xx-Zed", "xx_aaa-ud-test.conllu", ["a1", "a2"])
    treebank("UD_Xx-Yak", "xx_bbb-ud-test.conllu", ["b1"])
    treebank("UD_Xx-Big", "xx_big-ud-train-a-1.conllu", ["t1"])  # split train files
    treebank("UD_Xx-Big", "xx_big-ud-train-a-2.conllu", ["t2"])
    formless = treebank("UD_Xx-Nyu", "xx_nyu-ud-test.conllu", ["_", "_"])
    test = udpos.treebank_pattern(tmp_path, "xx", "test")
    merged = udpos.read_conllu(test)
    assert [s.words[0] for s in merged] == ["a1", "a2", "b1"]
    assert {s.lang for s in merged} == {"xx"}
    assert capsys.readouterr().err.strip() == (
        f"notice: {formless}: no word forms (all 2 sentences withhold their text): "
        "treebank skipped"
    )
    train = udpos.read_conllu(udpos.treebank_pattern(tmp_path, "xx", "train"))
    assert [s.words[0] for s in train] == ["t1", "t2"]
    # a language whose treebanks all withhold their forms is an error naming it
    with pytest.raises(ReaderError, match=r"no yy sentence with word forms .*skipped: "):
        treebank("UD_Yy-Nyu", "yy_nyu-ud-test.conllu", ["_"])
        udpos.read_conllu(udpos.treebank_pattern(tmp_path, "yy", "test"))
    with pytest.raises(ReaderError, match="no CoNLL-U file matches"):
        udpos.read_conllu(udpos.treebank_pattern(tmp_path, "zz", "test"))


def test_a_tie_outside_the_precedence_list_skips_the_file_as_xtreme_lacks_it(
    tmp_path, capsys
):
    # ud-conversion-tools stops on a file where the words of a multiword token tie on
    # depth and a tag is missing from its list (es: VERB AUX PRON ADP DET)
    good = tmp_path / "UD_Spanish-A" / "es_a-ud-test.conllu"
    good.parent.mkdir()
    good.write_text(_conllu([[("1", "casa", "NOUN", "0", "_")]]))
    stops = tmp_path / "UD_Spanish-B" / "es_b-ud-test.conllu"
    stops.parent.mkdir()
    stops.write_text(
        _conllu(
            [
                [
                    ("1-2", "xy", "_", "_", "_"),
                    ("1", "x", "NOUN", "3", "_"),
                    ("2", "y", "ADP", "3", "_"),
                    ("3", "z", "VERB", "0", "_"),
                ]
            ]
        )
    )
    merged = udpos.read_conllu(udpos.treebank_pattern(tmp_path, "es", "test"))
    assert [s.words for s in merged] == [("casa",)]
    assert "ud-conversion-tools stops at line 1" in capsys.readouterr().err


def test_conllu_and_two_column_errors(tmp_path):
    bad = tmp_path / "en_x-ud-test.conllu"
    bad.write_text("1\tA\ta\tNOUNX\t_\t_\t0\troot\t_\t_\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=f"^{bad}:1: UPOS 'NOUNX' is not a UD tag"):
        udpos.read_conllu(bad)
    bad.write_text("1\tA\ta\tNOUN\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=f"^{bad}:1: 4 columns, CoNLL-U has 10"):
        udpos.read_conllu(bad)
    two = _write(tmp_path / "test-de.tsv", ["Der\tDET", "Hund\tNOUN", "", "Ja\tINTJ"])
    sentences = udpos.read_two_column(two)
    assert [s.words for s in sentences] == [("Der", "Hund"), ("Ja",)]
    assert sentences[0].lang == "de"
    _write(two, ["Der DET"])
    with pytest.raises(ReaderError, match=f"^{two}:1: expected 'word<TAB>UPOS'"):
        udpos.read_two_column(two)


def test_unknown_test_labels_are_an_error_or_mapped_to_o(tmp_path):
    train = panx.read_panx(_write(tmp_path / "train", ["en:Ada\tB-PER", "en:x\tO"]))
    test_path = _write(tmp_path / "test", ["en:y\tO", "", "en:Rome\tB-LOC"])
    test = panx.read_panx(test_path)
    known = labels_of(train)
    with pytest.raises(
        ReaderError, match=f"^{test_path}:3: label 'B-LOC' is not in the " "training data"
    ):
        check_labels(known, test)
    mapped = check_labels(known, test, map_unknown_to="O")
    assert [s.tags for s in mapped] == [("O",), ("O",)]
    with pytest.raises(ReaderError, match="--map-unknown-labels-to Z: not a training"):
        check_labels(known, test, map_unknown_to="Z")


# ---- the real samples ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shared():
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is not present")
    return root


def test_real_xnli_rows(shared):
    for split in ("dev", "test"):
        pairs = xnli.read_xnli(shared / "xnli" / "XNLI-1.0" / f"xnli.{split}.tsv")
        assert len(pairs) == 15 and len({p.lang for p in pairs}) == 15
        assert {p.label for p in pairs} <= set(xnli.LABELS)
        assert all(p.premise and p.hypothesis for p in pairs)


def test_real_panx_files(shared):
    langs = sorted(p.name for p in (shared / "wikiann").iterdir() if p.is_dir())
    assert len(langs) == 12
    for lang in langs:
        for split in ("train", "dev", "test"):
            sentences = panx.read_panx(shared / "wikiann" / lang / split)
            assert sentences and all(s.lang == lang for s in sentences)
            assert all(len(s.words) == len(s.tags) for s in sentences)


def test_real_treebanks(shared):
    files = sorted((shared / "ud").rglob("*.conllu"))
    assert len(files) >= 12
    for path in files:
        sentences = udpos.read_conllu(path)
        assert sentences, path
        tags = Counter(t for s in sentences for t in s.tags)
        assert set(tags) <= set(udpos.UPOS) and tags["PUNCT"] > 0
        # every word is one token after the fused forms replaced their words
        assert all(w and " " not in w for s in sentences for w in s.words)
    path = shared / "ud" / "UD_French-GSD" / "fr_gsd-ud-test.conllu"
    french = udpos.read_conllu(path)
    du = Counter(t for s in french for w, t in zip(s.words, s.tags) if w == "du")
    assert du and du.most_common(1)[0][0] == "ADP"  # de (ADP) + le (DET), as XTREME
    # one word per syntactic word, less the words a fused form absorbed
    ids = [
        line.split("\t", 1)[0]
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    ranges = [tuple(map(int, i.split("-"))) for i in ids if "-" in i]
    syntactic = sum(i.isdigit() for i in ids)
    assert ranges and sum(len(s.words) for s in french) == syntactic - sum(
        end - start for start, end in ranges
    )
