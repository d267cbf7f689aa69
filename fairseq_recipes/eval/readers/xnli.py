"""XNLI readers (Conneau et al. 2018): the XNLI-1.0 evaluation files and the English
MultiNLI training file of XNLI-MT.

* ``xnli.{dev,test}.tsv`` (XNLI-1.0): a header row, every language in one file; read by
  column name: ``language``, ``gold_label``, ``sentence1``, ``sentence2``.
* ``multinli.train.en.tsv`` (XNLI-MT-1.0/multinli): ``premise``, ``hypo``, ``label``,
  where ``contradictory`` means ``contradiction``.

Quoting is off: quotes are part of the sentences.
"""

from typing import Iterable, List, Optional

from .examples import ReaderError, SentencePair, tsv_rows

LABELS = ("entailment", "neutral", "contradiction")
#: XNLI-MT's spelling of a label
_ALIASES = {"contradictory": "contradiction"}


def _label(value: str, path, lineno: int) -> str:
    label = _ALIASES.get(value.strip(), value.strip())
    if label not in LABELS:
        raise ReaderError(
            f"{path}:{lineno}: label {value!r} is none of {', '.join(LABELS)}"
        )
    return label


def read_xnli(path, langs: Optional[Iterable[str]] = None) -> List[SentencePair]:
    """The pairs of an XNLI-1.0 ``xnli.{dev,test}.tsv``, of ``langs`` (default all)."""
    wanted = set(langs) if langs is not None else None
    pairs = []
    columns = ("language", "gold_label", "sentence1", "sentence2")
    for lineno, row in tsv_rows(path, columns):
        lang = row["language"].strip()
        if wanted is not None and lang not in wanted:
            continue
        pairs.append(
            SentencePair(
                premise=row["sentence1"].strip(),
                hypothesis=row["sentence2"].strip(),
                label=_label(row["gold_label"], path, lineno),
                lang=lang,
                source=f"{path}:{lineno}",
            )
        )
    if wanted:
        missing = wanted - {p.lang for p in pairs}
        if missing:
            raise ReaderError(
                f"{path}: no rows for language {', '.join(sorted(missing))}"
            )
    return pairs


def read_multinli(path, lang: str = "en") -> List[SentencePair]:
    """The pairs of XNLI-MT's ``multinli.train.{lang}.tsv`` (premise, hypo, label)."""
    return [
        SentencePair(
            premise=row["premise"].strip(),
            hypothesis=row["hypo"].strip(),
            label=_label(row["label"], path, lineno),
            lang=lang,
            source=f"{path}:{lineno}",
        )
        for lineno, row in tsv_rows(path, ("premise", "hypo", "label"))
    ]
