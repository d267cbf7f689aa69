import random
import re
import unicodedata

import pytest

from fairseq_recipes.preprocessing.corpus import PipelineError, iter_documents
from fairseq_recipes.toy.corpus import (
    LANGS,
    Clause,
    ToyWorld,
    cli_main,
    render,
    write_corpus,
)

UPOS = {"ADJ", "ADP", "AUX", "DET", "NOUN", "NUM", "PROPN", "PUNCT", "VERB"}
SCRIPTS = {  # a letter of each language's script must appear in its text
    "en": "LATIN",
    "ru": "CYRILLIC",
    "hi": "DEVANAGARI",
    "ar": "ARABIC",
    "ja": "KATAKANA",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    write_corpus(out, docs_per_lang=40, seed=3)
    return out


def test_same_seed_same_bytes_other_seed_other_text(corpus, tmp_path):
    write_corpus(tmp_path / "again", docs_per_lang=40, seed=3)
    write_corpus(tmp_path / "other", docs_per_lang=40, seed=4)
    for lang in LANGS:
        text = (corpus / f"{lang}.txt").read_bytes()
        assert (tmp_path / "again" / f"{lang}.txt").read_bytes() == text
        assert (tmp_path / "other" / f"{lang}.txt").read_bytes() != text


def test_several_scripts(corpus):
    for lang, script in SCRIPTS.items():
        text = (corpus / f"{lang}.txt").read_text(encoding="utf-8")
        names = {unicodedata.name(c, "").split()[0] for c in text if c.isalpha()}
        assert script in names, (lang, names)
    ja = (corpus / "ja.txt").read_text(encoding="utf-8")
    assert re.search(r"[\u4e00-\u9fff]", ja) and " " not in ja.replace("\n", "")


def test_documents_of_varied_length(corpus):
    for lang in LANGS:
        docs = (corpus / f"{lang}.txt").read_text(encoding="utf-8").strip().split("\n\n")
        lengths = [len(doc.splitlines()) for doc in docs]
        assert len(docs) == 40 == len(list(iter_documents(corpus / f"{lang}.txt")))
        assert min(lengths) <= 5 and max(lengths) >= 15, lengths


def test_sentences_are_tagged_tokens():
    world, rng = ToyWorld(0), random.Random(1)
    for _ in range(50):
        for lang in LANGS:
            tokens = world.sentence(lang, rng)
            assert all(upos in UPOS for _, upos, _ in tokens)
            previous = "O"
            for _, _, tag in tokens:
                assert re.fullmatch(r"O|[BI]-(PER|LOC|ORG)", tag)
                assert not tag.startswith("I-") or previous[2:] == tag[2:]
                previous = tag
            assert tokens[-1][1] == "PUNCT"


def test_a_clause_is_parallel_across_languages():
    world = ToyWorld(0)
    rng = random.Random(2)
    for _ in range(30):
        clause = world.clause(rng)
        entities = {
            lang: [
                tag for _, _, tag in world.realize(clause, lang) if tag.startswith("B-")
            ]
            for lang in LANGS
        }
        assert all(sorted(e) == sorted(entities["en"]) for e in entities.values())


def test_world_facts_and_agreement():
    world = ToyWorld(0)
    assert world.people[0].name == ToyWorld(0).people[0].name  # deterministic world
    assert world.people[0].name != ToyWorld(1).people[0].name
    person = next(p for p in world.people if p.gender == "f")
    for kind, expected in (("lives", "रहती"), ("works", "करती")):
        tokens = world.realize(_fact(kind, person), "hi")
        assert expected in render("hi", tokens)
    de = render("de", world.noun_phrase(("dog", "big", True), "de", case="acc"))
    assert de == "den großen Hund"
    fr = render("fr", world.noun_phrase(("bird", None, True), "fr"))
    assert fr == "l'oiseau"


def _fact(kind, person):
    facts = {"lives": {"place": person.city}, "works": {"org": person.org}}
    return Clause(kind, person, **facts[kind])


def test_cli_writes_files_and_rejects_unknown_language(tmp_path, capsys):
    cli_main(["--output", str(tmp_path), "--langs", "en,ja", "--docs-per-lang", "3"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.txt", "ja.txt"]
    with pytest.raises(SystemExit) as exit_:
        cli_main(["--output", str(tmp_path), "--langs", "en,xx"])
    assert exit_.value.code == 2
    assert "error: --langs" in capsys.readouterr().err
    with pytest.raises(PipelineError):
        write_corpus(tmp_path, docs_per_lang=0)
