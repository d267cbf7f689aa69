"""What the fine-tuning readers return, and what they share: one-line errors that name the
file and line, header-addressed TSV rows, and the check of test labels against training.

Every example remembers where it came from (``source``, ``path:line``), so that a problem
found later (an unknown label, a sentence that cannot be aligned) still names its line.
"""

import csv
import sys
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Sequence, Tuple

from ...errors import RecipesError


class ReaderError(RecipesError):
    """Malformed fine-tuning data: the message starts with ``path:line:``."""


@dataclass(frozen=True)
class SentencePair:
    """XNLI: premise, hypothesis and one of entailment / neutral / contradiction."""

    premise: str
    hypothesis: str
    label: str
    lang: str
    source: str

    def prediction_lines(self, predicted: str) -> str:
        """``recipes-finetune``'s predictions file: gold, predicted."""
        return f"{self.label}\t{predicted}\n"


@dataclass(frozen=True)
class TaggedWords:
    """One label per word: WikiANN (IOB2 entities), UDPOS (UPOS tags)."""

    words: Tuple[str, ...]
    tags: Tuple[str, ...]
    lang: str
    source: str

    def prediction_lines(self, predicted: Sequence[str]) -> str:
        """Word, gold, predicted per line; a blank line ends the example."""
        return _word_lines(self.words, self.tags, predicted)


@dataclass(frozen=True)
class IntentSlots:
    """mATIS++: an intent for the utterance and a BIO slot label per word."""

    words: Tuple[str, ...]
    slots: Tuple[str, ...]
    intent: str
    lang: str
    source: str

    def prediction_lines(self, predicted: Tuple[str, Sequence[str]]) -> str:
        """``# intent`` gold, predicted; then the slots as :class:`TaggedWords`'."""
        intent, slots = predicted
        head = f"# intent\t{self.intent}\t{intent}\n"
        return head + _word_lines(self.words, self.slots, slots)


def _word_lines(words, gold, predicted) -> str:
    rows = "".join(f"{w}\t{g}\t{p}\n" for w, g, p in zip(words, gold, predicted))
    return rows + "\n"


def open_text(path):
    """A UTF-8 text file, or a one-line error naming it."""
    try:
        return open(path, encoding="utf-8", newline="")
    except OSError as err:
        raise ReaderError(f"{path}: cannot read: {err.strerror}") from None


def lines_of(path) -> Iterator[Tuple[int, str]]:
    """(line number, line without its end of line) of a UTF-8 file."""
    with open_text(path) as f:
        lineno = 0
        try:
            for lineno, line in enumerate(f, start=1):
                yield lineno, line.rstrip("\r\n")
        except UnicodeDecodeError as err:
            raise ReaderError(f"{path}:{lineno + 1}: not UTF-8 ({err.reason})") from None


def tsv_rows(path, required: Sequence[str]) -> Iterator[Tuple[int, dict]]:
    """(line number, {column: value}) of a TSV file with a header row, columns addressed
    by name, quoting off (quotes are text in these corpora)."""
    csv.field_size_limit(sys.maxsize)  # long documents in one field
    rows = lines_of(path)
    try:
        _, header_line = next(rows)
    except StopIteration:
        raise ReaderError(f"{path}:1: empty file, expected a header row") from None
    header = header_line.split("\t")
    missing = [name for name in required if name not in header]
    if missing:
        raise ReaderError(
            f"{path}:1: header has no column {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(header)})"
        )
    for lineno, line in rows:
        if not line.strip():
            continue
        (fields,) = csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE)
        if len(fields) != len(header):
            raise ReaderError(
                f"{path}:{lineno}: {len(fields)} tab-separated fields, the header has "
                f"{len(header)}"
            )
        yield lineno, dict(zip(header, fields))


def labels_of(examples: Iterable) -> set:
    """Every label of the examples (tags, slots and intents alike)."""
    found = set()
    for ex in examples:
        if isinstance(ex, SentencePair):
            found.add(ex.label)
        elif isinstance(ex, TaggedWords):
            found.update(ex.tags)
        else:
            found.update(ex.slots)
            found.add(ex.intent)
    return found


def check_labels(known: set, examples: list, map_unknown_to: Optional[str] = None):
    """The examples, with every label seen in training; an unknown one is an error naming
    its line, or becomes ``map_unknown_to`` (e.g. ``O``) when that is given."""
    if map_unknown_to is not None and map_unknown_to not in known:
        raise ReaderError(
            f"--map-unknown-labels-to {map_unknown_to}: not a training label"
        )
    out = []
    for ex in examples:
        unknown = sorted(labels_of([ex]) - known)
        if not unknown:
            out.append(ex)
            continue
        if map_unknown_to is None:
            raise ReaderError(
                f"{ex.source}: label {unknown[0]!r} is not in the training data (known: "
                f"{', '.join(sorted(known))}); pass --map-unknown-labels-to O to map "
                "unknown labels"
            )
        out.append(_mapped(ex, known, map_unknown_to))
    return out


def _mapped(ex, known: set, to: str):
    def fix(labels):
        return tuple(label if label in known else to for label in labels)

    if isinstance(ex, SentencePair):
        return SentencePair(ex.premise, ex.hypothesis, to, ex.lang, ex.source)
    if isinstance(ex, TaggedWords):
        return TaggedWords(ex.words, fix(ex.tags), ex.lang, ex.source)
    intent = ex.intent if ex.intent in known else to
    return IntentSlots(ex.words, fix(ex.slots), intent, ex.lang, ex.source)
