"""mTOP reader (Li et al. 2021): ``{lang}/{train,eval,test}.txt``.

One utterance per line, eight tab-separated columns and no header: id, intent, slot
spans, utterance, domain, locale, the decoupled logical form, and a JSON object whose
``tokens`` are the utterance's words (``tokenSpans`` their character offsets). The model
reads the space-joined ``tokens`` and writes the decoupled form, in which only the words
of slots remain between the ``[IN:...`` / ``[SL:...`` and ``]`` brackets.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from .examples import ReaderError, lines_of

COLUMNS = ("id", "intent", "slots", "utterance", "domain", "locale", "decoupled",
           "tokens")  # fmt: skip


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


def _tokens(field: str, where: str) -> Tuple[str, ...]:
    try:
        data = json.loads(field)
    except ValueError as err:
        raise ReaderError(f"{where}: tokens column is not JSON ({err})") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ReaderError(f"{where}: tokens JSON has no list of strings 'tokens'")
    if not tokens or any(not t.strip() or len(t.split()) != 1 for t in tokens):
        raise ReaderError(f"{where}: tokens must be non-empty words without spaces")
    return tuple(tokens)


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
        examples.append(ParsedUtterance(_tokens(row["tokens"], where), form, lang, where))
    return examples
