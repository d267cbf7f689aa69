"""UDPOS as XTREME builds it (Hu et al. 2020; google-research/xtreme), and XTREME's
processed two-column files.

**Which treebanks.** XTREME takes Universal Dependencies v2.5 (``paper.UD_VERSION``) and,
for each of its languages (``XTREME_LANGUAGES``), merges *every* treebank of the language
into one train, one dev and one test set: every file ``*/{lang}_*-ud-{split}*.conllu`` of
the release (the language is the file name's prefix before ``_``), read in file-name
order. :func:`read_conllu` takes one file or such a pattern
(``ud-treebanks-v2.5/*/en_*-ud-train*.conllu``, :func:`treebank_pattern`).

**Multiword tokens** (its ``ud-conversion-tools`` step, ``conllu_to_conll.py
--replace_subtokens_with_fused_forms``): a multiword token (``12-13  du``) replaces its
syntactic words (``de``, ``le``). The fused form takes the place of the span's head and
carries that word's UPOS. The head is the span's word with the fewest ancestors in the
sentence's graph, which the tool builds from the basic heads *and* the enhanced ``DEPS``
heads alike; a tie goes to the best-ranked UPOS of the tool's precedence list for the
language (the earlier word on equal rank). A tie between tags that the list lacks stops
the tool on that file, so XTREME's data has no sentence of it: such a file is skipped
with a notice. Empty nodes (``8.1``) are not words.

**Dropped sentences** (``utils_preprocess.py``, ``udpos_preprocess``): a sentence in
which all forms but at most one are ``_`` (text withheld by the treebank), counted after
the multiword tokens were replaced. Then spaces and zero-width non-joiners inside a form
are removed (a word is one token).

A file whose every sentence is dropped is a treebank released without its word forms
(Arabic-NYUAD, English-ESL, French-FTB, Japanese-BCCWJ in v2.5): it is skipped with a
one-line notice naming it, and a set left with no sentence at all is an error naming the
language, never a silently empty set.

XTREME's processed ``{split}-{lang}.tsv`` files hold ``word<TAB>UPOS`` lines, a blank line
between sentences (:func:`read_two_column`).
"""

import glob
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from .examples import ReaderError, TaggedWords, lines_of

UPOS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)
#: the languages of XTREME's UDPOS (utils_preprocess.py, download_data.sh)
XTREME_LANGUAGES = tuple(
    "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th "
    "tl tr ur vi yo zh".split()
)
#: ud-conversion-tools' precedence among heads of a fused span at equal depth
_PRECEDENCE = {
    "default": "VERB NOUN PROPN PRON ADJ NUM ADV INTJ AUX ADP DET PART CCONJ SCONJ X PUNCT",
    "es": "VERB AUX PRON ADP DET",
    "fr": "VERB AUX PRON NOUN ADJ ADV ADP DET PART SCONJ CONJ",
    "it": "VERB AUX ADV PRON ADP DET INTJ",
}
_GLOB = set("*?[")
#: files already given their notice in this process (a file is read several times)
_NOTICED: Set[str] = set()


class _ConversionStops(Exception):
    """ud-conversion-tools would stop on this file (XTREME's data lacks it)."""

    def __init__(self, reason: str, lineno: int = 0):
        super().__init__(reason)
        self.reason, self.lineno = reason, lineno


def treebank_pattern(root, lang: str, split: str) -> str:
    """Every treebank file of ``lang`` and ``split`` (train, dev, test) under a UD
    release directory, as XTREME finds them."""
    return f"{root}/*/{lang}_*-ud-{split}*.conllu"


def treebank_files(pattern) -> List[str]:
    """The files of a path or pattern, in XTREME's order (file name, then path)."""
    pattern = str(pattern)
    if not _GLOB & set(pattern):
        return [pattern]
    return sorted(glob.glob(pattern), key=lambda p: (Path(p).name, p))


def language_of(path) -> str:
    """``fr_gsd-ud-test.conllu`` -> ``fr``; ``test-fr.tsv`` -> ``fr``."""
    name = Path(path).name
    if name.endswith(".conllu"):
        return name.split("_", 1)[0]
    return name.rsplit(".", 1)[0].rsplit("-", 1)[-1]


def _clean(form: str) -> str:
    return "".join(form.replace("\u200c", "").split(" "))


def _ancestors(i: int, parents: Dict[int, Set[int]]) -> int:
    seen, todo = set(), [i]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    seen.discard(i)  # a word on a cycle of enhanced heads is not its own ancestor
    return len(seen)


def _span_head(span, parents, upos, lang) -> int:
    depths = [_ancestors(i, parents) for i in span]
    top = min(depths)
    highest = [i for i, d in zip(span, depths) if d == top]
    if len(highest) == 1:
        return highest[0]
    order = _PRECEDENCE.get(lang, _PRECEDENCE["default"]).split()
    missing = sorted({upos[i] for i in highest} - set(order))
    if missing:
        raise _ConversionStops(
            f"a multiword token's words tie on depth and {', '.join(missing)} is not in "
            f"its UPOS precedence list for {lang!r}"
        )
    return min(highest, key=lambda i: order.index(upos[i]))  # min keeps the first


def _sentence(rows, fused, path, lang) -> Optional[TaggedWords]:
    """rows: {id: (form, upos, heads)}, heads the basic head first, then the DEPS heads;
    fused: [(start, end, form, lineno)]. None for a sentence XTREME drops."""
    parents = {i: set(heads) for i, (_, _, heads) in rows.items()}
    upos = {i: tag for i, (_, tag, _) in rows.items()}
    forms = {i: form for i, (form, _, _) in rows.items()}
    for start, end, form, lineno in fused:
        span = list(range(start, end + 1))
        if any(i not in rows for i in span):
            raise ReaderError(f"{path}:{lineno}: range {start}-{end} names missing words")
        try:
            head = _span_head(span, parents, upos, lang)
        except _ConversionStops as err:
            raise _ConversionStops(err.reason, lineno) from None
        forms[head] = form
        for i in span:
            if i != head:
                del forms[i]
    order = sorted(forms)
    empty = sum(forms[i] == "_" for i in order)
    if empty and empty >= len(order) - 1:  # text withheld by the treebank
        return None
    return tuple(_clean(forms[i]) for i in order), tuple(upos[i] for i in order)


def _deps_heads(deps: str) -> List[int]:
    """Heads of the enhanced graph (``4:nsubj|6:nsubj:xsubj``); empty nodes' ids are not
    words and name none."""
    if deps == "_":
        return []
    heads = [pair.split(":", 1)[0] for pair in deps.split("|")]
    return [int(h) for h in heads if h.isdigit()]


def _read_file(path, lang: str) -> Tuple[List[TaggedWords], int]:
    """(kept sentences, sentences in the file) of one CoNLL-U file."""
    sentences, total = [], 0
    rows, fused, first = {}, [], None

    def flush():
        nonlocal total
        if rows:
            total += 1
            kept = _sentence(rows, fused, path, lang)
            if kept is not None:
                sentences.append(TaggedWords(kept[0], kept[1], lang, first))

    for lineno, line in lines_of(path):
        if not line.strip():
            flush()
            rows, fused, first = {}, [], None
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise ReaderError(f"{path}:{lineno}: {len(cols)} columns, CoNLL-U has 10")
        ident, form, tag, head, deps = cols[0], cols[1], cols[3], cols[6], cols[8]
        first = first or f"{path}:{lineno}"
        if "." in ident:  # empty node
            continue
        try:
            if "-" in ident:
                start, end = map(int, ident.split("-"))
                fused.append((start, end, form, lineno))
                continue
            rows[int(ident)] = (form, tag, [int(head)] + _deps_heads(deps))
        except ValueError:
            raise ReaderError(
                f"{path}:{lineno}: bad ID {ident!r}, HEAD {head!r} or DEPS {deps!r}"
            ) from None
        if tag not in UPOS:
            raise ReaderError(f"{path}:{lineno}: UPOS {tag!r} is not a UD tag")
    flush()
    return sentences, total


def _notice(path, message: str) -> None:
    if str(path) not in _NOTICED:
        _NOTICED.add(str(path))
        print(f"notice: {path}: {message}", file=sys.stderr, flush=True)


def read_conllu(path, lang: Optional[str] = None) -> List[TaggedWords]:
    """The sentences of a CoNLL-U file, or of every file a pattern matches, merged in
    file-name order (:func:`treebank_pattern`)."""
    lang = lang or language_of(path)
    files = treebank_files(path)
    if not files:
        raise ReaderError(f"{path}: no CoNLL-U file matches")
    sentences, skipped = [], []
    for name in files:
        try:
            kept, total = _read_file(name, lang)
        except _ConversionStops as err:
            _notice(
                name,
                f"skipped, as XTREME's data lacks it: ud-conversion-tools "
                f"stops at line {err.lineno} ({err.reason})",
            )
            skipped.append(name)
            continue
        if total and not kept:
            _notice(
                name,
                f"no word forms (all {total} sentences withhold their text): "
                "treebank skipped",
            )
            skipped.append(name)
        elif len(kept) < total:
            _notice(
                name,
                f"{total - len(kept)} of {total} sentences without word forms " "dropped",
            )
        sentences += kept
    if not sentences:
        what = "file" if len(files) == 1 else f"{len(files)} files"
        raise ReaderError(
            f"{path}: no {lang} sentence with word forms in its {what}"
            + (f" (skipped: {', '.join(map(str, skipped))})" if skipped else "")
        )
    return sentences


def read_two_column(path, lang: Optional[str] = None) -> List[TaggedWords]:
    """XTREME's ``word<TAB>UPOS`` files (``{split}-{lang}.tsv``)."""
    lang = lang or language_of(path)
    sentences, words, tags, first = [], [], [], None
    for lineno, line in list(lines_of(path)) + [(None, "")]:
        if not line.strip():
            if words:
                sentences.append(TaggedWords(tuple(words), tuple(tags), lang, first))
            words, tags, first = [], [], None
            continue
        word, tab, tag = line.partition("\t")
        if not tab or tag.strip() not in UPOS:
            hint = (
                " (a test file without tags: XTREME can withhold them)" if not tab else ""
            )
            raise ReaderError(
                f"{path}:{lineno}: expected 'word<TAB>UPOS', got {line[:60]!r}{hint}"
            )
        words.append(word)
        tags.append(tag.strip())
        first = first or f"{path}:{lineno}"
    if not sentences:
        raise ReaderError(f"{path}: no sentence")
    return sentences
