"""UDPOS readers: Universal Dependencies CoNLL-U, and XTREME's two-column files.

CoNLL-U gives word forms and UPOS tags the way XTREME prepares them (its
``ud-conversion-tools`` step, ``--replace_subtokens_with_fused_forms``, then
``udpos_preprocess``):

* a multiword token (``12-13  du``) replaces its syntactic words (``de``, ``le``): the
  fused form takes the place of the span's head, the syntactic word closest to the root
  (a tie is broken by a UPOS precedence list, per language where the tool has one), and
  carries that word's UPOS;
* empty nodes (``8.1``) are not words and are skipped;
* spaces and zero-width non-joiners inside a form are removed (a word is one token);
* a sentence whose forms are nearly all ``_`` (treebanks that withhold their text) is
  skipped.

XTREME's ``{split}-{lang}.tsv`` files hold ``word<TAB>UPOS`` lines, a blank line between
sentences.
"""

from pathlib import Path
from typing import List, Optional

from .examples import ReaderError, TaggedWords, lines_of

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
        "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")  # fmt: skip
#: ud-conversion-tools' precedence among heads of a fused span at equal depth
_PRECEDENCE = {
    "default": "VERB NOUN PROPN PRON ADJ NUM ADV INTJ AUX ADP DET PART CCONJ SCONJ X PUNCT",
    "es": "VERB AUX PRON ADP DET",
    "fr": "VERB AUX PRON NOUN ADJ ADV ADP DET PART SCONJ CONJ",
    "it": "VERB AUX ADV PRON ADP DET INTJ",
}


def language_of(path) -> str:
    """``fr_gsd-ud-test.conllu`` -> ``fr``; ``test-fr.tsv`` -> ``fr``."""
    name = Path(path).name
    if name.endswith(".conllu"):
        return name.split("_", 1)[0]
    return name.rsplit(".", 1)[0].rsplit("-", 1)[-1]


def _clean(form: str) -> str:
    return "".join(form.replace("\u200c", "").split(" "))


def _span_head(span, heads, upos, lang) -> int:
    def depth(i):
        steps = 0
        while i != 0 and steps <= len(heads):
            i, steps = heads[i], steps + 1
        return steps

    depths = {i: depth(i) for i in span}
    top = min(depths.values())
    highest = [i for i in span if depths[i] == top]
    if len(highest) == 1:
        return highest[0]
    order = _PRECEDENCE.get(lang, _PRECEDENCE["default"]).split()
    return min(
        highest, key=lambda i: order.index(upos[i]) if upos[i] in order else len(order)
    )


def _sentence(rows, fused, path, lang) -> Optional[TaggedWords]:
    """rows: {id: (form, upos, head)} of one sentence; fused: [(start, end, form)]."""
    heads = {i: head for i, (_, _, head) in rows.items()}
    upos = {i: tag for i, (_, tag, _) in rows.items()}
    forms = {i: form for i, (form, _, _) in rows.items()}
    for start, end, form, lineno in fused:
        span = list(range(start, end + 1))
        if any(i not in rows for i in span):
            raise ReaderError(f"{path}:{lineno}: range {start}-{end} names missing words")
        head = _span_head(span, heads, upos, lang)
        forms[head] = form
        for i in span:
            if i != head:
                del forms[i]
    order = sorted(forms)
    words = [_clean(forms[i]) for i in order]
    empty = sum(w == "_" for w in words)
    if empty and empty >= len(words) - 1:  # text withheld by the treebank
        return None
    return words, [upos[i] for i in order]


def read_conllu(path, lang: Optional[str] = None) -> List[TaggedWords]:
    lang = lang or language_of(path)
    sentences = []
    rows, fused, first = {}, [], None

    def flush():
        if rows:
            kept = _sentence(rows, fused, path, lang)
            if kept is not None:
                sentences.append(TaggedWords(tuple(kept[0]), tuple(kept[1]), lang, first))

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
        ident, form, tag, head = cols[0], cols[1], cols[3], cols[6]
        first = first or f"{path}:{lineno}"
        if "." in ident:  # empty node
            continue
        try:
            if "-" in ident:
                start, end = map(int, ident.split("-"))
                fused.append((start, end, form, lineno))
                continue
            rows[int(ident)] = (form, tag, int(head))
        except ValueError:
            raise ReaderError(
                f"{path}:{lineno}: bad ID {ident!r} or HEAD {head!r}"
            ) from None
        if tag not in UPOS:
            raise ReaderError(f"{path}:{lineno}: UPOS {tag!r} is not a UD tag")
    flush()
    return sentences


def read_two_column(path, lang: Optional[str] = None) -> List[TaggedWords]:
    """XTREME's ``word<TAB>UPOS`` files."""
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
            raise ReaderError(
                f"{path}:{lineno}: expected 'word<TAB>UPOS', got {line[:60]!r}"
            )
        words.append(word)
        tags.append(tag.strip())
        first = first or f"{path}:{lineno}"
    return sentences
