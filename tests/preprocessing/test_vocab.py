import pickle
import random

import numpy as np
import pytest
import sentencepiece as spm

from fairseq_recipes.preprocessing.corpus import PipelineError
from fairseq_recipes.preprocessing.vocab import (
    DOC_SEP,
    MASK,
    UNUSED_SYMBOL_RE,
    WORD_SENTINELS,
    SpmTokenizer,
    load_dictionary,
    load_spm,
    spm_sample_plan,
    train_spm,
    write_dictionary,
)
from fairseq_recipes.toy.corpus import LANGS, ToyWorld, render


@pytest.fixture(scope="module")
def sentences():
    world, rng = ToyWorld(0), random.Random(0)
    return [render(lang, world.sentence(lang, rng)) for _ in range(150) for lang in LANGS]


@pytest.fixture(scope="module")
def own_model(tmp_path_factory, sentences):
    out = tmp_path_factory.mktemp("own")
    model = train_spm(sentences, out / "spm", vocab_size=400)
    write_dictionary(model, out / "dict.txt")
    return model, out / "dict.txt"


@pytest.fixture(scope="module")
def xlmr_like_model(tmp_path_factory, sentences):
    """spm's default ids, as XLM-R's model: unk=0, bos=1, eos=2, no pad."""
    out = tmp_path_factory.mktemp("xlmr")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_prefix=str(out / "xlmr"),
        vocab_size=300,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    write_dictionary(out / "xlmr.model", out / "dict.txt")
    return out / "xlmr.model", out / "dict.txt"


def test_own_model_ids_equal_dictionary_ids(own_model):
    model, dict_path = own_model
    sp, d = load_spm(model), load_dictionary(dict_path)
    # every piece, then the word sentinels, which no text encodes to
    assert len(d) == sp.get_piece_size() + len(WORD_SENTINELS)
    assert d.symbols[-len(WORD_SENTINELS) :] == list(WORD_SENTINELS)
    for i in range(sp.get_piece_size()):
        assert d.index(sp.id_to_piece(i)) == i, sp.id_to_piece(i)
    assert (sp.bos_id(), sp.pad_id(), sp.eos_id(), sp.unk_id()) == (
        d.bos(),
        d.pad(),
        d.eos(),
        d.unk(),
    )
    assert (d.index(DOC_SEP), d.index(MASK)) == (4, 5)
    encoder = SpmTokenizer(model, d)
    np.testing.assert_array_equal(encoder.to_fairseq, np.arange(sp.get_piece_size()))


def test_xlmr_like_model_gets_a_constant_offset(xlmr_like_model):
    model, dict_path = xlmr_like_model
    sp, d = load_spm(model), load_dictionary(dict_path)
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    for i in range(3, sp.get_piece_size()):
        assert d.index(sp.id_to_piece(i)) == i + 1
    # appended after the pieces, <mask> first (where XLM-R's task puts it), then the
    # word sentinels
    pieces = len(d) - len(WORD_SENTINELS)
    assert d.index(MASK) == pieces - 2 and d.index(DOC_SEP) == pieces - 1
    assert d.symbols[pieces:] == list(WORD_SENTINELS)
    encoder = SpmTokenizer(model, d)
    assert encoder.to_fairseq[sp.unk_id()] == d.unk()
    assert encoder.to_fairseq[sp.bos_id()] == d.bos()
    text = "Mereda Name lives in Tonabu."
    ids = encoder.encode(text)
    spm_ids = np.array(sp.encode(text))
    np.testing.assert_array_equal(ids, np.where(spm_ids == 0, d.unk(), spm_ids + 1))


@pytest.mark.parametrize("which", ["own_model", "xlmr_like_model"])
def test_encoded_text_round_trips(request, which, sentences):
    model, dict_path = request.getfixturevalue(which)
    encoder = SpmTokenizer(model, dict_path)
    for text in sentences[:: len(LANGS) + 1][:40]:  # every language
        assert encoder.decode(encoder.encode(text)) == text
    flat, lengths = encoder.encode_batch(sentences[:20])
    assert lengths.sum() == len(flat)
    np.testing.assert_array_equal(flat[: lengths[0]], encoder.encode(sentences[0]))


def test_encoder_pickles_for_worker_processes(own_model):
    encoder = SpmTokenizer(*own_model)
    clone = pickle.loads(pickle.dumps(encoder))
    text = "Das Pferd ist neu."
    np.testing.assert_array_equal(clone.encode(text), encoder.encode(text))


def test_corrupt_or_missing_model_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\x00\x01 definitely not a protobuf " * 20)
    for path in (bad, tmp_path / "missing.model"):
        with pytest.raises(PipelineError) as error:
            load_spm(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(PipelineError, match="bad.model"):
        write_dictionary(bad, tmp_path / "dict.txt")
    assert not (tmp_path / "dict.txt").exists()


def test_vocab_too_small_is_a_one_line_error(tmp_path, sentences):
    with pytest.raises(PipelineError, match="--vocab-size 20") as error:
        train_spm(sentences, tmp_path / "spm", vocab_size=20)
    assert "\n" not in str(error.value)


def test_sample_plan_balances_languages_deterministically():
    counts = {"en": 1000, "fr": 100, "ja": 10}
    plan = spm_sample_plan(counts, sample_size=600, alpha=0.3, seed=1)
    assert sum(int(c.sum()) for c in plan.values()) == 600
    assert {lang: len(c) for lang, c in plan.items()} == counts
    # the smallest language is up-sampled: each sentence is repeated
    assert plan["ja"].min() >= 1 and plan["ja"].sum() > 10
    assert plan["en"].max() == 1 and plan["en"].sum() < 600 * 1000 / 1110
    again = spm_sample_plan(counts, sample_size=600, alpha=0.3, seed=1)
    assert all(np.array_equal(plan[lang], again[lang]) for lang in counts)
    other = spm_sample_plan(counts, sample_size=600, alpha=0.3, seed=2)
    assert not np.array_equal(plan["en"], other["en"])


def test_logical_form_characters_never_become_unk(own_model, sentences):
    """mTOP's labels are spelled even by a model whose corpus lacks their characters."""
    model, dict_path = own_model
    d = load_dictionary(dict_path)
    form = "[IN:GET_WEATHER [SL:DATE_TIME ] ]"
    assert not set("[]:_") & set("".join(sentences))
    ids = SpmTokenizer(model, d).encode(form)
    assert d.unk() not in ids.tolist()
    assert SpmTokenizer(model, d).decode(ids) == form


def test_a_dictionary_padded_to_a_size_keeps_every_id_and_adds_unused_symbols(
    own_model, tmp_path
):
    model, natural_path = own_model
    natural = load_dictionary(natural_path)
    write_dictionary(model, tmp_path / "dict.txt", size=len(natural) + 1000)
    padded = load_dictionary(tmp_path / "dict.txt")
    assert len(padded) == len(natural) + 1000
    assert padded.symbols[: len(natural)] == natural.symbols  # every real id unchanged
    extra = padded.symbols[len(natural) :]
    assert all(UNUSED_SYMBOL_RE.fullmatch(s) for s in extra) and len(set(extra)) == 1000
    # no text encodes to a padding symbol, and text encodes as without padding
    text = "the quick brown fox"
    assert np.array_equal(
        SpmTokenizer(model, padded).encode(text),
        SpmTokenizer(model, natural).encode(text),
    )
    write_dictionary(model, tmp_path / "same.txt", size=len(natural))
    assert load_dictionary(tmp_path / "same.txt").symbols == natural.symbols
    with pytest.raises(PipelineError, match=f"--dictionary-size {len(natural) - 1}: "):
        write_dictionary(model, tmp_path / "small.txt", size=len(natural) - 1)
