"""A small deterministic multilingual "toy world" and the default pre-training corpus.

The world has people, cities and organizations with facts (where a person lives and
works, their age), and nouns, verbs and adjectives with a surface form in eight languages:
en, fr, de, es (real words), ru, hi, ar (words generated from per-script syllable tables)
and ja (generated kanji + kana). Names are transliterated, so an entity is recognisable
across scripts. Sentences come from a few templates with each language's word order
(SVO; SOV in hi and ja) and simple agreement: articles and adjectives with the noun's
gender and case (fr, de, es, ru, hi, ar), verbs with the subject's gender (hi, ar).
A document stays on one person, so context helps.

Reusable API: ``world = ToyWorld(seed)``; ``world.clause(rng)`` is language-independent
(one clause realised in two languages is a parallel pair); ``world.realize(clause,
lang)`` and ``world.sentence(lang, rng)`` give ``[(word, upos, entity_tag)]`` with UD
UPOS and BIO tags over PER/LOC/ORG; ``world.document(lang, rng)`` a list of those;
``render(lang, tokens)`` the text.
"""

import argparse
import random
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..atomic_files import write_text
from ..cli import command
from ..preprocessing.corpus import PipelineError, parse_langs
from . import lexicon as lex
from .lexicon import LANGS, LATIN, Token, render, spell


@dataclass
class Entity:
    """A person (PER), city (LOC) or organization (ORG), with its facts."""

    kind: str
    name: tuple  # syllable sequences: (first, last) for people, (name,) otherwise
    gender: str = "m"
    org_kind: str = ""
    city: Optional["Entity"] = None
    org: Optional["Entity"] = None
    age: int = 0


@dataclass
class Clause:
    """A language-independent sentence; noun phrases are (noun, adjective, definite)."""

    kind: str
    subject: object  # an Entity, or a noun phrase in "desc"
    verb: str = ""
    obj: tuple = ()
    place: Optional[Entity] = None
    org: Optional[Entity] = None
    number: int = 0
    adj: str = ""
    full_name: bool = True


class ToyWorld:
    """The lexicon and the facts, all drawn from ``seed`` (see the module docstring)."""

    def __init__(self, seed: int = 0, people: int = 40, cities: int = 12, orgs: int = 10):
        rng = random.Random(f"toy-world-{seed}")
        self.nouns = {
            en: {
                "class": cls,
                "en": (en, "n"),
                **dict(zip(LATIN[1:], (tuple(f.split(":")) for f in forms))),
            }
            for en, cls, *forms in lex.entries(lex.NOUNS)
        }
        self.verbs = {
            key: {"classes": c, **dict(zip(LATIN, f))}
            for key, *f, c in lex.entries(lex.VERBS)
        }
        self.adjs = {f[0]: dict(zip(LATIN, f)) for f in lex.entries(lex.ADJS)}
        used = set()
        for kind, table in (
            ("noun", self.nouns),
            ("verb", self.verbs),
            ("adj", self.adjs),
        ):
            for entry in table.values():
                for lang in LANGS[len(LATIN) :]:
                    entry[lang] = self._invent(rng, lang, kind, used)
        names = set()
        self.cities = [Entity("LOC", (self._name(rng, names, 3),)) for _ in range(cities)]
        self.orgs = []
        for _ in range(orgs):
            org = Entity(
                "ORG",
                (self._name(rng, names, 2),),
                org_kind=rng.choice(list(lex.ORG_KINDS)),
            )
            org.city = rng.choice(self.cities)
            self.orgs.append(org)
        self.people = []
        for _ in range(people):
            gender = rng.choice("mf")
            first = self._name(
                rng, names, rng.randint(2, 3), "a" if gender == "f" else "o"
            )
            person = Entity("PER", (first, self._name(rng, names, 2)), gender)
            person.city, person.org = rng.choice(self.cities), rng.choice(self.orgs)
            person.age = rng.randint(18, 89)
            self.people.append(person)

    @staticmethod
    def _name(rng, used, n, last_vowel=None):
        while True:
            syls = [(rng.choice(lex.CONS), rng.choice(lex.VOWELS)) for _ in range(n)]
            if last_vowel:  # female first names end in -a, male ones in -o
                syls[-1] = (syls[-1][0], last_vowel)
            if tuple(syls) not in used:
                used.add(tuple(syls))
                return tuple(syls)

    @staticmethod
    def _invent(rng, lang, kind, used):
        """A new content word (stem, gender); endings are added when it is realised."""
        while True:
            if lang == "ja":
                stem = "".join(
                    rng.choice(lex.KANJI) for _ in range(2 if kind == "noun" else 1)
                )
                stem += {"noun": "", "adj": "い", "verb": rng.choice("みきりしち")}[kind]
            else:  # consonant-final stems, so that agreement endings attach
                syls = [(rng.choice(lex.CONS), rng.choice(lex.VOWELS)) for _ in range(2)]
                stem = spell(syls, lang) + rng.choice(lex.SPELLING[lang][0])
            if (lang, stem) not in used:
                used.add((lang, stem))
                return stem, rng.choice("mfn" if lang == "ru" else "mf")

    # ---- realisation -------------------------------------------------------------------
    def entity(self, entity: Entity, lang: str, full: bool = True) -> List[Token]:
        """An entity's name, BIO-tagged with its kind (PROPN, as UD tags names)."""
        if entity.kind == "ORG":
            kind = lex.ORG_KINDS[entity.org_kind].split()[LANGS.index(lang)]
            words = [spell(entity.name[0], lang).capitalize(), kind]
            words = words if lang in lex.NAME_FIRST else words[::-1]
        else:
            words = [
                spell(part, lang).capitalize() for part in entity.name[: 2 if full else 1]
            ]
        tags = ["B-" + entity.kind] + ["I-" + entity.kind] * (len(words) - 1)
        return [(w, "PROPN", tag) for w, tag in zip(words, tags)]

    def gender(self, noun: str, lang: str) -> str:
        return self.nouns[noun][lang][1]

    def adjective(self, adj: str, lang: str, gender: str, case="nom", det=None) -> str:
        return lex.inflect_adjective(self.adjs[adj][lang], lang, gender, case, det)

    def noun_phrase(self, phrase: tuple, lang: str, case: str = "nom") -> List[Token]:
        """Determiner, adjective and noun in the language's order and agreement."""
        noun, adj, definite = phrase
        word, gender = self.nouns[noun][lang]
        word = lex.inflect_noun(word, lang, gender, case, definite)
        tokens = [(word, "NOUN", "O")]
        if adj:
            det = "def" if definite else "indef"
            form = self.adjs[adj][lang]
            a = lex.inflect_adjective(form, lang, gender, case, det, definite)
            before = lang in lex.ADJ_FIRST or lang == "fr" and form[0] == "<"
            tokens = [(a, "ADJ", "O")] + tokens if before else tokens + [(a, "ADJ", "O")]
        article = lex.article(lang, definite, gender, case, tokens[0][0])
        tokens = ([(article, "DET", "O")] if article else []) + tokens
        if lang == "hi" and definite and case == "acc":
            tokens.append(("को", "ADP", "O"))  # definite objects take the marker ko
        return tokens

    def verb(self, verb: str, lang: str, gender: str) -> List[Token]:
        return lex.verb_tokens(self.verbs[verb][lang], lang, gender)

    def realize(self, clause: Clause, lang: str) -> List[Token]:
        """The clause as tokens in ``lang``, with the final full stop."""
        subject = clause.subject
        if isinstance(subject, Entity):
            gender = subject.gender
            subject_tokens = self.entity(subject, lang, clause.full_name)
        else:
            gender = self.gender(subject[0], lang)
            subject_tokens = self.noun_phrase(subject, lang)
        slots = {"{S}": subject_tokens, "{L}": []}
        if clause.place is not None:
            slots["{C}"] = self.entity(clause.place, lang)
            slots["{L}"] = self._expand(
                lex.LOCATION.split("|")[LANGS.index(lang)], slots, gender
            )
        if clause.org is not None:
            slots["{G}"] = self.entity(clause.org, lang)
        if clause.verb:
            slots["{V}"] = self.verb(clause.verb, lang, gender)
            slots["{O}"] = self.noun_phrase(clause.obj, lang, "acc")
        if clause.number:
            number = str(clause.number)
            slots["{N}"] = [
                (
                    number.translate(lex.ARABIC_DIGITS) if lang == "ar" else number,
                    "NUM",
                    "O",
                )
            ]
        if clause.adj:
            slots["{A}"] = [(self.adjective(clause.adj, lang, gender), "ADJ", "O")]
        frame = lex.FRAMES[clause.kind].split("|")[LANGS.index(lang)]
        tokens = self._expand(frame, slots, gender) + [
            (lex.FULL_STOP[lang], "PUNCT", "O")
        ]
        if lang in lex.CASED:
            word, upos, tag = tokens[0]
            tokens[0] = (word[:1].upper() + word[1:], upos, tag)
        return tokens

    @staticmethod
    def _expand(frame: str, slots: dict, gender: str) -> List[Token]:
        tokens = []
        for part in frame.split():
            if part in slots:
                tokens += slots[part]
            else:
                word, upos = part.rsplit("/", 1)
                forms = word.split("~")
                tokens.append((forms[-1] if gender == "f" else forms[0], upos, "O"))
        return tokens

    # ---- sampling ----------------------------------------------------------------------
    def clause(
        self, rng: random.Random, topic: Optional[Entity] = None, full_name=True
    ) -> Clause:
        """A random true statement about ``topic`` (a random person by default)."""
        person = topic or rng.choice(self.people)
        kind = rng.choices(
            list(lex.KIND_WEIGHTS), weights=list(lex.KIND_WEIGHTS.values())
        )[0]
        if kind == "act":
            verb = rng.choice(list(self.verbs))
            nouns = [
                n
                for n, e in self.nouns.items()
                if e["class"] in self.verbs[verb]["classes"]
            ]
            adj = rng.choice(list(self.adjs)) if rng.random() < 0.4 else ""
            obj = (rng.choice(nouns), adj or None, rng.random() < 0.5)
            place = rng.choice([person.city, person.city, rng.choice(self.cities), None])
            return Clause(
                kind, person, verb=verb, obj=obj, place=place, full_name=full_name
            )
        if kind == "desc":
            subject = (
                person.city
                if rng.random() < 0.3
                else (rng.choice(list(self.nouns)), None, True)
            )
            return Clause(kind, subject, adj=rng.choice(list(self.adjs)))
        if kind == "org_in":
            return Clause(kind, person.org, org=person.org, place=person.org.city)
        facts = {
            "lives": {"place": person.city},
            "works": {"org": person.org},
            "age": {"number": person.age},
        }
        return Clause(kind, person, full_name=full_name, **facts[kind])

    def sentence(self, lang: str, rng: random.Random) -> List[Token]:
        return self.realize(self.clause(rng), lang)

    def document(self, lang: str, rng: random.Random) -> List[List[Token]]:
        """A few to a few dozen sentences, most of them about one person."""
        topic = rng.choice(self.people)
        length = rng.choice([rng.randint(2, 5), rng.randint(5, 12), rng.randint(12, 36)])
        clauses = [self.clause(rng, topic)]
        for _ in range(length - 1):
            if rng.random() < 0.15:
                clauses.append(self.clause(rng))  # someone else, named in full
            else:
                clauses.append(self.clause(rng, topic, full_name=rng.random() < 0.3))
        return [self.realize(clause, lang) for clause in clauses]


def write_corpus(
    output, langs=LANGS, docs_per_lang: int = 300, seed: int = 1, world_seed: int = 0
):
    """Write ``{output}/{lang}.txt``: a sentence per line, a blank line between documents.

    Each language draws its own documents (not translations of each other) from
    ``random.Random`` seeded by ``seed`` and the language: the same call gives the same
    bytes on any machine. Returns the paths written.
    """
    unknown = [lang for lang in langs if lang not in LANGS]
    if unknown:
        raise PipelineError(
            f"--langs: no toy language {','.join(unknown)} (have: {','.join(LANGS)})"
        )
    if docs_per_lang < 1:
        raise PipelineError("--docs-per-lang must be >= 1")
    world = ToyWorld(world_seed)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths = []
    for lang in langs:
        rng = random.Random(f"toy-corpus-{seed}-{lang}")
        docs = [world.document(lang, rng) for _ in range(docs_per_lang)]
        text = "\n\n".join("\n".join(render(lang, s) for s in doc) for doc in docs) + "\n"
        path = output / f"{lang}.txt"
        write_text(path, text)  # never a half-written file under the final name
        paths.append(path)
    return paths


@command
def cli_main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="recipes-toy-corpus",
        description="Write the deterministic multilingual toy corpus ({lang}.txt files).",
    )
    parser.add_argument("--output", required=True, help="directory for {lang}.txt")
    parser.add_argument("--langs", default=",".join(LANGS), help="default: %(default)s")
    parser.add_argument("--docs-per-lang", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1, help="seed of the documents")
    parser.add_argument(
        "--world-seed",
        type=int,
        default=0,
        help="seed of the lexicon and facts (keep it to share the world with evaluation data)",
    )
    args = parser.parse_args(argv)
    paths = write_corpus(
        args.output,
        parse_langs(args.langs) or LANGS,
        args.docs_per_lang,
        args.seed,
        args.world_seed,
    )
    size = sum(p.stat().st_size for p in paths)
    print(
        f"wrote {len(paths)} languages x {args.docs_per_lang} documents ({size / 1e6:.1f} MB) to {args.output}"
    )


if __name__ == "__main__":
    cli_main()
