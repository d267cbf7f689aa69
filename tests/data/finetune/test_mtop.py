"""mTOP reader on files in the released eight-column format, its one-line errors, and the
word-sentinel conversion round-tripping every example."""

import pytest
from helpers import mtop_line

from fairseq_recipes.data.finetune.examples import ReaderError
from fairseq_recipes.data.finetune.mtop import read_mtop
from fairseq_recipes.data.finetune.sentinels import from_sentinels, to_sentinels
from fairseq_recipes.data.vocab import WORD_SENTINELS

#: (words, decoupled form) as mTOP writes them: nested intents, repeated words, a word
#: the utterance lacks (the form spells it), Devanagari
EXAMPLES = [
    ("what is the weather in new york".split(),
     "[IN:GET_WEATHER [SL:LOCATION new york ] ]"),
    ("remind me to call mom at 5 pm".split(),
     "[IN:CREATE_REMINDER [SL:PERSON_REMINDED me ] [SL:TODO [IN:GET_TODO [SL:TODO call "
     "mom ] ] ] [SL:DATE_TIME at 5 pm ] ]"),
    ("play the the song by the band".split(),
     "[IN:PLAY_MUSIC [SL:MUSIC_TYPE song ] [SL:MUSIC_ARTIST_NAME the band ] ]"),
    ("set an alarm for tomorrow".split(),
     "[IN:CREATE_ALARM [SL:DATE_TIME for tomorrow morning ] ]"),
    ("मुझे कल का मौसम बताओ".split(), "[IN:GET_WEATHER [SL:DATE_TIME कल ] ]"),
]  # fmt: skip


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reader_takes_tokens_and_decoupled_form(tmp_path):
    path = _write(tmp_path / "de" / "test.txt",
                  [mtop_line(i, w, f, "de_DE") for i, (w, f) in enumerate(EXAMPLES)])  # fmt: skip
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
        (mtop_line(1, ["a"], "[IN:X ]").replace('"tokens"', '"words"'),
         r":3: tokens JSON has no list"),
    ],
)  # fmt: skip
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
    path = _write(tmp_path / "en" / "test.txt",
                  [mtop_line(i, w, f) for i, (w, f) in enumerate(EXAMPLES)])  # fmt: skip
    for example in read_mtop(path):
        pointed = to_sentinels(example.words, example.logical_form)
        spelled = [t for t in pointed.split() if not t.startswith("[") and t != "]"]
        assert any(t in WORD_SENTINELS for t in spelled)
        assert from_sentinels(pointed, example.words) == example.logical_form


def test_too_many_words_for_the_sentinels():
    words = [f"w{i}" for i in range(len(WORD_SENTINELS) + 1)]
    with pytest.raises(ValueError, match="more than the 256 word sentinels"):
        to_sentinels(words, "[IN:X ]")
