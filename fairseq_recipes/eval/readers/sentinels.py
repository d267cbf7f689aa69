"""Word sentinels (CLASP, Rosenbaum et al. 2022) for mTOP: the model points, not spells.

The input is ``<w0> what <w1> is <w2> the <w3> weather <w4> in <w5> paris``; the target
``[IN:GET_WEATHER [SL:LOCATION paris ] ]`` becomes ``[IN:GET_WEATHER [SL:LOCATION <w5> ]
]``. Each word of the form is matched to the next input word equal to it (the decoupled
form keeps the utterance's word order), else to an earlier one; a word the input lacks
stays spelled out, so every form round-trips. Sentinels are symbols of the shared
dictionary (``data/vocab.WORD_SENTINELS``); nothing in a text encodes to one.
"""

import re
from typing import List, Optional, Sequence

from ...preprocessing.vocab import WORD_SENTINELS
from .mtop import is_structure

_SENTINEL = re.compile(r"^<w(\d+)>$")


def sentinel_index(token: str) -> Optional[int]:
    """``i`` of a dictionary sentinel ``<wi>``, else None."""
    match = _SENTINEL.match(token)
    i = int(match.group(1)) if match else None
    return i if i is not None and i < len(WORD_SENTINELS) else None


def _position(words: Sequence[str], word: str, start: int) -> Optional[int]:
    for order in (range(start, len(words)), range(0, min(start, len(words)))):
        for i in order:
            if words[i] == word:
                return i
    return None


def to_sentinels(words: Sequence[str], form: str) -> str:
    """The logical form with each word that the input has replaced by its sentinel."""
    if len(words) > len(WORD_SENTINELS):
        raise ValueError(
            f"{len(words)} words, more than the {len(WORD_SENTINELS)} word sentinels"
        )
    out, start = [], 0
    for token in form.split():
        i = None if is_structure(token) else _position(words, token, start)
        if i is None:
            out.append(token)
        else:
            out.append(WORD_SENTINELS[i])
            start = i + 1
    return " ".join(out)


def from_sentinels(text: str, words: Sequence[str]) -> str:
    """The words back in place of their sentinels (one naming no input word stays)."""
    out: List[str] = []
    for token in text.split():
        i = sentinel_index(token)
        out.append(words[i] if i is not None and i < len(words) else token)
    return " ".join(out)
