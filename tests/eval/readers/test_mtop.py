"""mTOP reader on files in the released eight-column format, its one-line errors, and the
word-sentinel conversion round-tripping every example."""

import json

import pytest
from helpers import mtop_line, shared_data

from fairseq_recipes.eval.readers.examples import ReaderError
from fairseq_recipes.eval.readers.mtop import read_mtop
from fairseq_recipes.eval.readers.sentinels import from_sentinels, to_sentinels
from fairseq_recipes.preprocessing.vocab import WORD_SENTINELS
from fairseq_recipes.scoring.sciem import sciem

#: (words, decoupled form) as mTOP writes them: nested intents, repeated words, a word
#: the utterance lacks (the form spells it), Devanagari
EXAMPLES = [
    (
        "what is the weather in new york".split(),
        "[IN:GET_WEATHER [SL:LOCATION new york ] ]",
    ),
    (
        "remind me to call mom at 5 pm".split(),
        "[IN:CREATE_REMINDER [SL:PERSON_REMINDED me ] [SL:TODO [IN:GET_TODO [SL:TODO call "
        "mom ] ] ] [SL:DATE_TIME at 5 pm ] ]",
    ),
    (
        "play the the song by the band".split(),
        "[IN:PLAY_MUSIC [SL:MUSIC_TYPE song ] [SL:MUSIC_ARTIST_NAME the band ] ]",
    ),
    (
        "set an alarm for tomorrow".split(),
        "[IN:CREATE_ALARM [SL:DATE_TIME for tomorrow morning ] ]",
    ),
    ("मुझे कल का मौसम बताओ".split(), "[IN:GET_WEATHER [SL:DATE_TIME कल ] ]"),
]


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reader_takes_tokens_and_decoupled_form(tmp_path):
    path = _write(
        tmp_path / "de" / "test.txt",
        [mtop_line(i, w, f, "de_DE") for i, (w, f) in enumerate(EXAMPLES)],
    )
    examples = read_mtop(path)
    assert [e.words for e in examples] == [tuple(w) for w, _ in EXAMPLES]
    assert [e.logical_form for e in examples] == [f for _, f in EXAMPLES]
    assert {e.lang for e in examples} == {"de"}  # the folder names the language
    assert examples[1].source == f"{path}:2"


@pytest.mark.parametrize(
    "line, message",
    [
        ("1\tIN:X\t\tutterance\tmisc\ten_XX\t[IN:X ]", r":3: 7 tab-separated columns"),
        (mtop_line(1, ["a"], "[IN:X ]")[:-5], r":3: tokens column is not JSON"),
        (mtop_line(1, ["a"], "[IN:X [SL:Y a ]"), r":3: logical form leaves 1 bracket"),
        (mtop_line(1, ["a"], "[IN:X a ] ]"), r":3: logical form closes a bracket"),
        (mtop_line(1, ["a"], "a [IN:X ]"), r":3: logical form does not start"),
        (
            mtop_line(1, ["a"], "[IN:X ]").replace('"tokens"', '"words"'),
            r":3: tokens JSON has no list",
        ),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    good = mtop_line(0, ["a", "b"], "[IN:X [SL:Y a ] ]")
    path = _write(tmp_path / "en" / "train.txt", [good, good, line])
    with pytest.raises(ReaderError, match=f"^{path}{message}"):
        read_mtop(path)


def test_sentinels_point_at_the_next_equal_word():
    words, form = EXAMPLES[2]
    # "the band": the first "the" after "by" (position 5), not one of the earlier ones
    assert to_sentinels(words, form) == (
        "[IN:PLAY_MUSIC [SL:MUSIC_TYPE <w3> ] [SL:MUSIC_ARTIST_NAME <w5> <w6> ] ]"
    )
    # a word the utterance lacks stays spelled out
    words, form = EXAMPLES[3]
    assert (
        to_sentinels(words, form)
        == "[IN:CREATE_ALARM [SL:DATE_TIME <w3> <w4> morning ] ]"
    )
    # a sentinel naming no input word is left as it is
    assert from_sentinels("[IN:X <w1> <w9> ]", ["a", "b"]) == "[IN:X b <w9> ]"


def test_sentinels_round_trip_every_example_of_a_file(tmp_path):
    path = _write(
        tmp_path / "en" / "test.txt",
        [mtop_line(i, w, f) for i, (w, f) in enumerate(EXAMPLES)],
    )
    for example in read_mtop(path):
        pointed = to_sentinels(example.words, example.logical_form)
        spelled = [t for t in pointed.split() if not t.startswith("[") and t != "]"]
        assert any(t in WORD_SENTINELS for t in spelled)
        assert from_sentinels(pointed, example.words) == example.logical_form


def test_too_many_words_for_the_sentinels():
    words = [f"w{i}" for i in range(len(WORD_SENTINELS) + 1)]
    with pytest.raises(ValueError, match="more than the 256 word sentinels"):
        to_sentinels(words, "[IN:X ]")


# ---- the released files: ../shared/data/mtop (first 200 records of MTOP v2) ----------
REAL = [
    (lang, split)
    for lang in ("en", "de", "es", "fr", "hi", "th")
    for split in ("test", "eval")
]


@pytest.fixture(scope="module")
def real_mtop():
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is not present")
    return root / "mtop"


def test_every_released_record_reads(real_mtop):
    for lang, split in REAL:
        path = real_mtop / lang / f"{split}.txt"
        examples = read_mtop(path)
        assert len(examples) == 200 and {e.lang for e in examples} == {lang}
        rows = [line.split("\t") for line in path.read_text("utf-8").splitlines()]
        assert [e.words for e in examples] == [
            tuple(json.loads(r[7])["tokens"]) for r in rows
        ]
        assert [e.logical_form for e in examples] == [
            " ".join(r[6].split()) for r in rows
        ]


def test_token_spans_are_utf8_bytes_as_released(real_mtop, tmp_path):
    line = (real_mtop / "hi" / "test.txt").read_text("utf-8").splitlines()[0]
    fields = line.split("\t")
    data = json.loads(fields[7])
    # the released spans name bytes of the utterance; as characters they miss
    utterance = fields[3]
    spans = []
    for token in data["tokens"]:
        start = utterance.index(token, spans[-1]["start"] + 1 if spans else 0)
        spans.append({"start": start, "length": len(token)})
    assert spans != data["tokenSpans"]
    fields[7] = json.dumps({"tokens": data["tokens"], "tokenSpans": spans})
    path = _write(tmp_path / "hi" / "test.txt", ["\t".join(fields)])
    with pytest.raises(
        ReaderError, match=rf"^{path}:1: token 1 .* is not bytes 0-4 .*UTF-8"
    ):
        read_mtop(path)


def test_sentinels_round_trip_every_released_record(real_mtop):
    pointed = spelled = 0
    for lang, split in REAL:
        for example in read_mtop(real_mtop / lang / f"{split}.txt"):
            form = to_sentinels(example.words, example.logical_form)
            assert from_sentinels(form, example.words) == example.logical_form
            for token in form.split():
                if token in WORD_SENTINELS:
                    pointed += 1
                elif not token.startswith("[") and token != "]":
                    spelled += 1  # the form's word is not the utterance's
                    assert token not in example.words
    # the forms mostly copy the utterance's words: WhatsApp / Whatsapp, Mamá / mamá
    assert pointed > 100 * spelled > 0  # 7,730 and 44


def test_sciem_on_the_released_forms(real_mtop):
    forms = [e.logical_form for e in read_mtop(real_mtop / "fr" / "test.txt")]
    assert sciem(forms, forms) == 100.0
    # case and whitespace do not count, anything else does
    assert sciem(forms, [f.upper().replace(" ", "  ") for f in forms]) == 100.0
    assert sciem(forms, [f.replace(" ]", "]") for f in forms]) == 100.0
    wrong = [
        f.replace("[SL:", "[SL:X", 1) if i % 4 == 0 else f for i, f in enumerate(forms)
    ]
    changed = sum(a != b for a, b in zip(forms, wrong))
    assert changed > 0 and sciem(forms, wrong) == pytest.approx(
        100.0 * (len(forms) - changed) / len(forms)
    )
