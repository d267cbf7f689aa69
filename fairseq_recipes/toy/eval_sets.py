"""Small evaluation sets drawn from the toy world of the pre-training corpus
(``corpus.py``), written in the released on-disk formats that the fine-tuning readers
(``data/finetune``) and scripts (``train_scripts/finetune-*.sh``, ``EVAL_DATA=<output>/
<dir>``) expect:

* ``xnli/XNLI-1.0/xnli.{dev,test}.tsv`` (every language, XNLI's 19 columns) and
  ``xnli/XNLI-MT-1.0/multinli/multinli.train.en.tsv`` (premise, hypo, label);
* ``matis/{train,dev,test}_{LANG}.tsv`` (MultiATIS++: id, utterance, slot_labels, intent);
* ``panx/{lang}/{train,dev,test}`` (PAN-X ``lang:token<TAB>TAG``);
* ``ud/UD_<Language>-Toy/{lang}_toy-ud-{train,dev,test}.conllu`` (CoNLL-U, flat trees);
* ``mtop/{lang}/{train,eval,test}.txt`` (mTOP's eight columns);
* ``xsum/bbc-summary-data/{id}.summary`` with ``xsum/XSum-TRAINING-DEV-TEST-SPLIT-90-5-5
  .json`` (the raw XSum release; English only).

Labels come from the world, so a model can learn them from the text:

* UD: the UPOS of realised sentences (whole documents); PAN-X: their BIO PER/LOC/ORG tags
  (sentences naming at least one entity).
* MultiATIS++: a clause without its full stop; the intent is its kind (lives ->
  ``atis_city``, works -> ``atis_employer``, age -> ``atis_age``, act ->
  ``atis_activity``, desc -> ``atis_description``, org_in -> ``atis_org_city``; kinds
  balanced), the slots BIO tags of its entities (``person_name``, ``city_name``,
  ``org_name``).
* mTOP: utterances drawn the same way; the form is an intent of the kind
  (``IN:GET_CITY`` ...) with ``SL:NAME`` / ``SL:CITY`` / ``SL:ORG`` / ``SL:AGE`` slots
  over the input's own words.
* XNLI: the premise states one fact (home city, employer or age) of a person; the
  hypothesis restates it (entailment), gives the same kind of fact another value
  (contradiction), or states a fact of another kind (neutral); balanced. One fact, not
  two: with two, a width-64 model stays at chance for 300 updates (measured), with one it
  is well above chance after 200.
* XSum: a document about one person; the summary (FIRST-SENTENCE) states one of their
  facts with their full name, and the body restates it; the title is the name.

XNLI, MultiATIS++ and mTOP are parallel across languages (one clause realised in each),
like the translated releases; PAN-X and UD draw each language's sentences separately.
Examples come from ``random.Random`` streams named by ``seed``, task, split (and
language), never the corpus's streams, so sentences are drawn anew; the world comes from
``world_seed`` (0, the corpus's), so the words and entities are the ones pre-training
saw. The same call writes the same bytes on any machine.
"""

import argparse
import json
import random
from pathlib import Path

from ..atomic_files import atomic_directory
from ..cli import command
from ..evaluations import EVALUATIONS, NAMES
from ..preprocessing.corpus import PipelineError, parse_langs
from . import eval_formats as fmt
from .corpus import Clause, ToyWorld
from .lexicon import LANGS, render

KINDS = ("lives", "works", "age", "act", "desc", "org_in")
FACTS = KINDS[:3]  # a person's facts, the ones XNLI and XSum state
NLI_LABELS = ("entailment", "neutral", "contradiction")
ATIS_INTENTS = dict(
    zip(
        KINDS,
        "atis_city atis_employer atis_age atis_activity "
        "atis_description atis_org_city".split(),
    )
)
ATIS_SLOTS = {"PER": "person_name", "LOC": "city_name", "ORG": "org_name"}
# short label names: a toy SentencePiece model spells labels letter by letter, and shorter
# forms let a tiny model reach exact matches within the main job's few hundred updates
MTOP_INTENTS = dict(
    zip(KINDS, ["IN:GET_" + i for i in "CITY JOB AGE ACT DESC HQ".split()])
)
MTOP_SLOTS = {"PER": "SL:NAME", "LOC": "SL:CITY", "ORG": "SL:ORG", "NUM": "SL:AGE"}
SPLITS = ("train", "dev", "test")
XSUM_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


# ---- sampling ----------------------------------------------------------------------
def _rng(seed, *parts) -> random.Random:
    return random.Random("-".join(["toy-eval", str(seed), *map(str, parts)]))


def _balanced(rng, n, values) -> list:
    """``n`` values, each as often as the others (+-1), in random order."""
    out = [values[i % len(values)] for i in range(n)]
    rng.shuffle(out)
    return out


def _clause_of(world, rng, kind, topic=None, full_name=True) -> Clause:
    """A clause of ``kind``, drawn the way the corpus draws them (rejection)."""
    while True:
        clause = world.clause(rng, topic, full_name)
        if clause.kind == kind:
            return clause


def _fact(person, kind, full_name=True, value=None) -> Clause:
    """A person's home city, employer or age (``value`` instead of the true one)."""
    if value is None:
        value = {"lives": person.city, "works": person.org, "age": person.age}[kind]
    key = {"lives": "place", "works": "org", "age": "number"}[kind]
    return Clause(kind, person, full_name=full_name, **{key: value})


def _false_value(world, rng, person, kind):
    if kind == "age":
        return rng.choice([age for age in range(18, 90) if age != person.age])
    true = person.city if kind == "lives" else person.org
    options = world.cities if kind == "lives" else world.orgs
    return rng.choice([e for e in options if e is not true])


def _nli_pair(world, rng, label):
    """(premise clauses, hypothesis clause) with ``label`` (see the module docstring)."""
    person = rng.choice(world.people)
    stated = rng.choice(FACTS)
    premise = [_fact(person, stated)]
    kind, value = stated, None
    if label == "neutral":
        kind = rng.choice([k for k in FACTS if k != stated])
    elif label == "contradiction":
        value = _false_value(world, rng, person, kind)
    return premise, _fact(person, kind, rng.random() < 0.5, value)


def _spans(tokens, with_numbers=False):
    """(first, end, type) of each BIO entity (and number, for mTOP's ages)."""
    spans = []
    for i, (_, upos, tag) in enumerate(tokens):
        if tag.startswith("I-"):
            spans[-1] = (spans[-1][0], i + 1, spans[-1][2])
        elif tag.startswith("B-"):
            spans.append((i, i + 1, tag[2:]))
        elif with_numbers and upos == "NUM":
            spans.append((i, i + 1, "NUM"))
    return spans


def _utterance(world, clause, lang):
    """A clause as a spoken-style utterance: without its full stop."""
    return world.realize(clause, lang)[:-1]


# ---- one builder per task: {path inside the task's directory: text} -------------------
def _xnli(world, langs, sizes, seed):
    data = {}
    for split, n in sizes.items():
        rng = _rng(seed, "xnli", split)
        labels = _balanced(rng, n, NLI_LABELS)
        data[split] = [(label, *_nli_pair(world, rng, label)) for label in labels]

    def realized(lang, clauses):
        return [token for clause in clauses for token in world.realize(clause, lang)]

    files = {}
    for split in ("dev", "test"):
        rows = [
            (lang, label, realized(lang, premise), realized(lang, [hypothesis]), i)
            for lang in langs
            for i, (label, premise, hypothesis) in enumerate(data[split], start=1)
        ]
        files[f"XNLI-1.0/xnli.{split}.tsv"] = fmt.xnli_tsv(rows)
    train = [
        (label, realized("en", p), realized("en", [h])) for label, p, h in data["train"]
    ]
    files["XNLI-MT-1.0/multinli/multinli.train.en.tsv"] = fmt.multinli_tsv(train)
    return files


def _utterances(world, sizes, seed, task):
    """Each split's clauses, kinds balanced (shared by every language)."""
    out = {}
    for split, n in sizes.items():
        rng = _rng(seed, task, split)
        out[split] = [_clause_of(world, rng, kind) for kind in _balanced(rng, n, KINDS)]
    return out


def _matis(world, langs, sizes, seed):
    files = {}
    for split, clauses in _utterances(world, sizes, seed, "matis").items():
        for lang in langs:
            rows = []
            for i, clause in enumerate(clauses, start=1):
                tokens = _utterance(world, clause, lang)
                slots = [
                    t if t == "O" else t[:2] + ATIS_SLOTS[t[2:]] for _, _, t in tokens
                ]
                rows.append((i, fmt.words(tokens), slots, ATIS_INTENTS[clause.kind]))
            files[f"{split}_{lang.upper()}.tsv"] = fmt.matis_tsv(rows)
    return files


def _mtop(world, langs, sizes, seed):
    files = {}
    names = {"train": "train", "dev": "eval", "test": "test"}
    for n, (split, clauses) in enumerate(_utterances(world, sizes, seed, "mtop").items()):
        for lang in langs:
            lines = []
            for i, clause in enumerate(clauses):
                tokens = _utterance(world, clause, lang)
                slots = [(a, b, MTOP_SLOTS[kind]) for a, b, kind in _spans(tokens, True)]
                ident = str(
                    (n + 1) * 10**6 + i
                )  # one utterance, one id in every language
                intent = MTOP_INTENTS[clause.kind]
                lines.append(fmt.mtop_line(ident, intent, lang, tokens, slots))
            files[f"{lang}/{names[split]}.txt"] = "\n".join(lines) + "\n"
    return files


def _wikiann(world, langs, sizes, seed):
    files = {}
    for lang in langs:
        for split, n in sizes.items():
            rng, sentences = _rng(seed, "wikiann", split, lang), []
            while len(sentences) < n:
                tokens = world.sentence(lang, rng)
                if any(tag != "O" for _, _, tag in tokens):
                    sentences.append(tokens)
            files[f"{lang}/{split}"] = fmt.panx(lang, sentences)
    return files


def _udpos(world, langs, sizes, seed):
    files = {}
    for lang in langs:
        for split, n in sizes.items():
            rng, sentences, doc = _rng(seed, "udpos", split, lang), [], 0
            while len(sentences) < n:  # whole documents, the last one cut (as UD's are)
                doc += 1
                sentences += [(doc, tokens) for tokens in world.document(lang, rng)]
            name = f"UD_{fmt.UD_LANGUAGES[lang]}-Toy/{lang}_toy-ud-{split}.conllu"
            files[name] = fmt.conllu(lang, sentences[:n], f"{lang}_toy-{split}")
    return files


def _article(world, rng):
    """(title, summary, body sentences) of a document about one person."""
    topic = rng.choice(world.people)
    kind = rng.choice(FACTS)
    clauses = [_clause_of(world, rng, "act", topic)]  # names the topic in full
    for _ in range(rng.randint(4, 14)):
        if rng.random() < 0.15:
            clauses.append(world.clause(rng))  # someone else, as in the corpus
        else:
            clauses.append(world.clause(rng, topic, full_name=rng.random() < 0.3))
    for clause in clauses:
        if clause.kind == kind and clause.subject is topic:
            clause.full_name = False  # XSum's summaries are not copied from the body
    clauses.insert(rng.randint(1, len(clauses)), _fact(topic, kind, full_name=False))
    name = render("en", world.entity(topic, "en"))
    summary = render("en", world.realize(_fact(topic, kind), "en"))
    return name, summary, [render("en", world.realize(c, "en")) for c in clauses]


def _xsum(world, langs, sizes, seed):
    files, ids = {}, {}
    for n, (split, count) in enumerate(sizes.items()):
        rng = _rng(seed, "xsum", split)
        ids[XSUM_SPLITS[split]] = [str(30000000 + n * 10**6 + i) for i in range(count)]
        for ident in ids[XSUM_SPLITS[split]]:
            title, summary, body = _article(world, rng)
            files[f"bbc-summary-data/{ident}.summary"] = fmt.xsum_summary(
                ident, title, summary, body
            )
    files["XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json"] = json.dumps(ids, indent=1) + "\n"
    return files


BUILDERS = {
    "xnli": _xnli,
    "matis": _matis,
    "wikiann": _wikiann,
    "udpos": _udpos,
    "mtop": _mtop,
    "xsum": _xsum,
}


# ---- writing -----------------------------------------------------------------------
def _checked(langs, tasks, sizes):
    langs, tasks = list(dict.fromkeys(langs)), list(dict.fromkeys(tasks))
    unknown = [lang for lang in langs if lang not in LANGS]
    if unknown:
        raise PipelineError(
            f"--langs: no toy language {','.join(unknown)} (have: {','.join(LANGS)})"
        )
    if "en" not in langs:
        raise PipelineError("--langs must include en (the training language)")
    unknown = [task for task in tasks if task not in NAMES]
    if unknown or not tasks:
        raise PipelineError(
            f"--tasks: no task {','.join(unknown) or '(empty)'} (have: {','.join(NAMES)})"
        )
    for name, n in sizes.items():
        if not isinstance(n, int) or n < 1:
            raise PipelineError(f"--{name} must be an integer >= 1, got {n!r}")
    return langs, tasks


def write_eval_data(
    output,
    langs=LANGS,
    train: int = 512,
    dev: int = 64,
    test: int = 64,
    seed: int = 1,
    world_seed: int = 0,
    tasks=NAMES,
    overwrite: bool = False,
) -> dict:
    """Write the tasks' sets under ``output`` (see the module docstring) and return
    {task: its directory}. Sizes are examples (XSum: documents) per split and language.

    The files are written into a hidden directory beside ``output`` and renamed at the
    end, so an interrupted run leaves nothing that looks complete; an existing ``output``
    is an error unless ``overwrite`` (then it is replaced as a whole)."""
    sizes = dict(zip(SPLITS, (train, dev, test)))
    langs, tasks = _checked(langs, tasks, sizes)
    output = Path(output)
    if output.exists() and not overwrite:
        raise PipelineError(f"--output {output} exists (pass --overwrite to replace it)")
    world = ToyWorld(world_seed)
    with atomic_directory(output, may_replace=lambda _: None) as partial:
        for task in tasks:
            for name, text in BUILDERS[task](world, langs, sizes, seed).items():
                path = partial / EVALUATIONS[task].dataset_dir / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8", newline="\n")
    return {task: output / EVALUATIONS[task].dataset_dir for task in tasks}


@command
def cli_main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="recipes-toy-eval",
        description="Write toy XNLI, MultiATIS++, PAN-X, UD, mTOP and XSum sets from the "
        "toy corpus's world, in the released formats.",
    )
    parser.add_argument("--output", required=True, help="directory to create")
    parser.add_argument("--langs", default=",".join(LANGS), help="default: %(default)s")
    parser.add_argument("--tasks", default=",".join(NAMES), help="default: %(default)s")
    parser.add_argument("--train", type=int, default=512, help="examples per language")
    parser.add_argument("--dev", type=int, default=64, help="examples per language")
    parser.add_argument("--test", type=int, default=64, help="examples per language")
    parser.add_argument("--seed", type=int, default=1, help="seed of the examples")
    parser.add_argument(
        "--world-seed", type=int, default=0, help="keep the pre-training corpus's world"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --output")
    args = parser.parse_args(argv)
    langs = parse_langs(args.langs) or list(LANGS)
    dirs = write_eval_data(
        args.output,
        langs,
        args.train,
        args.dev,
        args.test,
        args.seed,
        args.world_seed,
        parse_langs(args.tasks) or [],
        args.overwrite,
    )
    per_lang, n_langs = args.train + args.dev + args.test, len(set(langs))
    for task, path in dirs.items():
        count = {"xnli": args.train + (args.dev + args.test) * n_langs, "xsum": per_lang}
        print(f"{task}: {count.get(task, per_lang * n_langs)} examples -> {path}")


if __name__ == "__main__":
    cli_main()
