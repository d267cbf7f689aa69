"""mTOP reader (Li et al. 2021): ``{lang}/{train,eval,test}.txt``.

One utterance per line, eight tab-separated columns and no header: id, intent, slot
spans, utterance, domain, locale, the decoupled logical form, and a JSON object whose
``tokens`` are the utterance's words and ``tokenSpans`` their places in the utterance as
UTF-8 *byte* offsets (``{"start": s, "length": n}``, as the slot spans are; in the
released files they are bytes, which differ from characters in every language but
English). A token that is not the bytes its span names is an error. The model reads the
space-joined ``tokens`` and writes the decoupled form, in which only the words of slots
remain between the ``[IN:...`` / ``[SL:...`` and ``]`` brackets; those words are not
always the utterance's (another case, spelling or inflection: ``WhatsApp``, ``Whatsapp``).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from .examples import ReaderError, lines_of

COLUMNS = (
    "id",
    "intent",
    "slots",
    "utterance",
    "domain",
    "locale",
    "decoupled",
    "tokens",
)


@dataclass(frozen=True)
class ParsedUtterance:
    """An utterance's words and its decoupled logical form (tokens space-separated)."""

    words: Tuple[str, ...]
    logical_form: str
    lang: str
    source: str


def is_structure(token: str) -> bool:
    """``[IN:X`` / ``[SL:Y`` opens a node and ``]`` closes it; other tokens are words."""
    return token.startswith("[") or token == "]"


def check_brackets(form: str, where: str) -> None:
    depth = 0
    for token in form.split():
        if token.startswith("["):
            depth += 1
        elif token == "]":
            depth -= 1
            if depth < 0:
                raise ReaderError(f"{where}: logical form closes a bracket never opened")
    if depth:
        raise ReaderError(f"{where}: logical form leaves {depth} bracket(s) open")
    if not form.split() or not form.split()[0].startswith("["):
        raise ReaderError(f"{where}: logical form does not start with a [IN: node")


def _tokens(field: str, utterance: str, where: str) -> Tuple[str, ...]:
    try:
        data = json.loads(field)
    except ValueError as err:
        raise ReaderError(f"{where}: tokens column is not JSON ({err})") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ReaderError(f"{where}: tokens JSON has no list of strings 'tokens'")
    if not tokens or any(not t.strip() or len(t.split()) != 1 for t in tokens):
        raise ReaderError(f"{where}: tokens must be non-empty words without spaces")
    spans = data.get("tokenSpans")
    if spans is not None:
        _check_spans(tokens, spans, utterance.encode("utf-8"), where)
    return tuple(tokens)


def _check_spans(tokens, spans, utterance: bytes, where: str) -> None:
    if not isinstance(spans, list) or len(spans) != len(tokens):
        raise ReaderError(f"{where}: tokenSpans is not a list of one span per token")
    for i, (token, span) in enumerate(zip(tokens, spans), start=1):
        try:
            start, length = int(span["start"]), int(span["length"])
        except (TypeError, KeyError, ValueError):
            raise ReaderError(
                f"{where}: tokenSpans {i} has no start and length"
            ) from None
        if utterance[start : start + length] != token.encode("utf-8"):
            raise ReaderError(
                f"{where}: token {i} {token!r} is not bytes {start}-{start + length} of "
                "the utterance (tokenSpans are UTF-8 byte offsets)"
            )


def language_of(path) -> str:
    """``mtop/de/test.txt`` -> ``de`` (the folder names the language)."""
    return Path(path).parent.name.lower()


def read_mtop(path, lang: Optional[str] = None) -> List[ParsedUtterance]:
    lang = lang or language_of(path)
    examples = []
    for lineno, line in lines_of(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        fields = line.split("\t")
        if len(fields) != len(COLUMNS):
            raise ReaderError(
                f"{where}: {len(fields)} tab-separated columns, mTOP has {len(COLUMNS)} "
                f"({', '.join(COLUMNS)})"
            )
        row = dict(zip(COLUMNS, fields))
        form = " ".join(row["decoupled"].split())
        check_brackets(form, where)
        words = _tokens(row["tokens"], row["utterance"], where)
        examples.append(ParsedUtterance(words, form, lang, where))
    return examples
