"""WikiANN / PAN-X reader (Pan et al. 2017, XTREME's split): per language, files
``train``, ``dev`` and ``test`` of lines ``lang:token<TAB>TAG``, a blank line between
sentences, IOB2 tags over PER, ORG and LOC.

The language prefix ends at the first colon only: ``en:http://x.org`` is the token
``http://x.org``.
"""

from typing import List

from .examples import ReaderError, TaggedWords, lines_of

TYPES = ("PER", "ORG", "LOC")
TAGS = ("O",) + tuple(f"{p}-{t}" for t in TYPES for p in "BI")


def read_panx(path) -> List[TaggedWords]:
    sentences = []
    words, tags, lang, first = [], [], None, None

    def flush():
        if words:
            sentences.append(TaggedWords(tuple(words), tuple(tags), lang, first))

    for lineno, line in lines_of(path):
        if not line.strip():
            flush()
            words, tags, lang, first = [], [], None, None
            continue
        token, tab, tag = line.partition("\t")
        prefix, colon, word = token.partition(":")
        if not tab or not colon or not word:
            raise ReaderError(
                f"{path}:{lineno}: expected 'lang:token<TAB>TAG', got {line[:60]!r}"
            )
        tag = tag.strip()
        if tag not in TAGS:
            raise ReaderError(
                f"{path}:{lineno}: tag {tag!r} is not IOB2 over {', '.join(TYPES)}"
            )
        if lang is not None and prefix != lang:
            raise ReaderError(
                f"{path}:{lineno}: language {prefix!r} inside a {lang!r} sentence "
                "(missing blank line?)"
            )
        words.append(word)
        tags.append(tag)
        lang = prefix
        first = first or f"{path}:{lineno}"
    flush()
    return sentences
