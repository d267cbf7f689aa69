"""MultiATIS++ reader (Xu et al. 2020): ``{train,dev,test}_{LANG}.tsv``.

A header row, then one utterance per row: ``id``, ``utterance`` (words separated by
spaces), ``slot_labels`` (one BIO label per word of the space-split utterance) and
``intent``. A multi-intent utterance joins its intents with ``#``
(``atis_flight#atis_airfare``); the joined string is one intent label, as in the paper's
setup.
"""

import re
from pathlib import Path
from typing import List, Optional

from .examples import IntentSlots, ReaderError, tsv_rows

_NAME = re.compile(r"^(train|dev|test)_([A-Za-z]{2,3})\.tsv$")


def language_of(path) -> str:
    """``test_DE.tsv`` -> ``de``."""
    match = _NAME.match(Path(path).name)
    if not match:
        raise ReaderError(f"{path}: expected a MultiATIS++ name like test_DE.tsv")
    return match.group(2).lower()


def read_matis(path, lang: Optional[str] = None) -> List[IntentSlots]:
    lang = lang or language_of(path)
    examples = []
    for lineno, row in tsv_rows(path, ("id", "utterance", "slot_labels", "intent")):
        words = tuple(row["utterance"].split())
        slots = tuple(row["slot_labels"].split())
        if not words:
            raise ReaderError(f"{path}:{lineno}: empty utterance")
        if len(slots) != len(words):
            raise ReaderError(
                f"{path}:{lineno}: {len(slots)} slot labels for {len(words)} words"
            )
        bad = [s for s in slots if s != "O" and not re.match(r"^[BI]-.+", s)]
        if bad:
            raise ReaderError(f"{path}:{lineno}: slot label {bad[0]!r} is not BIO")
        intent = row["intent"].strip()
        if not intent:
            raise ReaderError(f"{path}:{lineno}: empty intent")
        examples.append(IntentSlots(words, slots, intent, lang, f"{path}:{lineno}"))
    return examples
