"""XSUM readers (Narayan et al. 2018): BBC articles, each summarised by its introductory
sentence.

XSUM reaches users in three shapes, and each is read as it is found rather than converted
first:

* the raw release, ``bbc-summary-data/{id}.summary`` (``[SN]NAME[SN]`` sections) with the
  official split file ``XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json``;
* the ``{id}.data`` files (``[XSUM]NAME[XSUM]`` sections) that the dataset's own
  ``scripts/parse-bbc-html-data.py`` writes from downloaded pages;
* line-aligned ``{split}.source`` / ``{split}.target``, the layout of the preprocessed
  copies that seq2seq toolkits (fairseq's BART among them) use.

Pages vanish from the web archive, so a rebuilt copy lacks some ids of the split file:
those are counted and returned, not fatal, since scores on a partial test set must say
how partial it is. Articles are one paragraph per line; a document is its paragraphs
joined by single spaces (one line, as the line-aligned format needs).
"""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .examples import ReaderError, lines_of, open_text

logger = logging.getLogger(__name__)

SPLIT_FILE = "XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json"
SPLITS = ("train", "validation", "test")
_SPLIT_ALIASES = {"valid": "validation"}


@dataclass(frozen=True)
class Summary:
    """An article and its one-sentence summary."""

    document: str
    summary: str
    id: str
    source: str


def read_split_ids(split_file, split: str) -> List[str]:
    """The ids (as strings) of one split of the official split file."""
    name = _SPLIT_ALIASES.get(split, split)
    if name not in SPLITS:
        raise ReaderError(
            f"{split_file}: unknown split {split!r} (one of {', '.join(SPLITS)})"
        )
    with open_text(split_file) as f:
        try:
            splits = json.load(f)
        except json.JSONDecodeError as err:
            raise ReaderError(
                f"{split_file}:{err.lineno}: not JSON ({err.msg})"
            ) from None
        except UnicodeDecodeError as err:
            raise ReaderError(f"{split_file}: not UTF-8 ({err.reason})") from None
    if not isinstance(splits, dict) or name not in splits:
        raise ReaderError(f"{split_file}: no {name!r} key (expected {', '.join(SPLITS)})")
    ids = splits[name]
    if not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids):
        raise ReaderError(f"{split_file}: {name!r} is not a list of ids")
    if not ids:
        raise ReaderError(f"{split_file}: {name!r} has no ids")
    return [str(i).strip() for i in ids]


def _sections(path, marker: str) -> Dict[str, Tuple[int, List[str]]]:
    """{section name: (line of its header, its lines)} of a ``{marker}NAME{marker}`` file."""
    header = re.compile(rf"^{re.escape(marker)}([^\[\]]+){re.escape(marker)}\s*$")
    sections: Dict[str, Tuple[int, List[str]]] = {}
    current: Optional[List[str]] = None
    for lineno, line in lines_of(path):
        match = header.match(line)
        if match:
            name = match.group(1)
            if name in sections:
                raise ReaderError(
                    f"{path}:{lineno}: second {marker}{name}{marker} section"
                )
            current = []
            sections[name] = (lineno, current)
        elif current is not None:
            current.append(line)
        elif line.strip():
            raise ReaderError(
                f"{path}:{lineno}: text before the first {marker}...{marker}"
            )
    return sections


def _section_text(path, sections, marker: str, name: str) -> str:
    """A section's non-empty lines joined by single spaces; missing or empty: an error."""
    if name not in sections:
        raise ReaderError(f"{path}: no {marker}{name}{marker} section")
    lineno, lines = sections[name]
    text = " ".join(line.strip() for line in lines if line.strip())
    if not text:
        raise ReaderError(f"{path}:{lineno}: empty {marker}{name}{marker} section")
    return text


def read_article(path, marker: str, summary_section: str) -> Summary:
    """One ``.summary`` (marker ``[SN]``, summary ``FIRST-SENTENCE``) or ``.data`` (marker
    ``[XSUM]``, summary ``INTRODUCTION``) file; the document is ``RESTBODY``."""
    sections = _sections(path, marker)
    return Summary(
        document=_section_text(path, sections, marker, "RESTBODY"),
        summary=_section_text(path, sections, marker, summary_section),
        id=Path(path).stem,
        source=str(path),
    )


def _read_split(
    directory, suffix: str, split_file, split: str, read
) -> Tuple[list, list]:
    """(examples, ids without a file) of the split's ids that have ``{id}{suffix}``."""
    directory = Path(directory)
    ids = read_split_ids(split_file, split)
    missing = [i for i in ids if not (directory / f"{i}{suffix}").is_file()]
    if len(missing) == len(ids):
        raise ReaderError(
            f"{split_file}: none of the {len(ids)} {split} ids has a {suffix} file in "
            f"{directory}"
        )
    if missing:
        logger.warning(
            f"{split_file}: {len(missing)} of {len(ids)} {split} ids have no {suffix} file "
            f"in {directory} (e.g. {', '.join(missing[:3])})"
        )
    absent = set(missing)
    examples = [read(directory / f"{i}{suffix}") for i in ids if i not in absent]
    return examples, missing


def read_xsum_release(
    summary_dir, split_file, split: str
) -> Tuple[List[Summary], List[str]]:
    """(examples, ids without a ``.summary`` file) of a split of ``bbc-summary-data``."""
    return _read_split(
        summary_dir,
        ".summary",
        split_file,
        split,
        lambda p: read_article(p, "[SN]", "FIRST-SENTENCE"),
    )


def read_xsum_data_dir(
    directory, split_file=None, split: Optional[str] = None
) -> Tuple[List[Summary], List[str]]:
    """(examples, ids without a ``.data`` file): the ids of ``split`` when a split file is
    given, else every ``*.data`` file of the directory in name order (none missing)."""

    def read(p):
        return read_article(p, "[XSUM]", "INTRODUCTION")

    if split_file is not None:
        if split is None:
            raise ReaderError(f"{split_file}: which split? (one of {', '.join(SPLITS)})")
        return _read_split(directory, ".data", split_file, split, read)
    paths = sorted(Path(directory).glob("*.data"))
    if not paths:
        raise ReaderError(f"{directory}: no *.data files")
    return [read(p) for p in paths], []


def _lines(path, what: str) -> List[str]:
    lines = []
    for lineno, line in lines_of(path):
        if not line.strip():
            raise ReaderError(f"{path}:{lineno}: empty {what}")
        lines.append(line.strip())
    return lines


def read_source_target(prefix) -> List[Summary]:
    """The examples of line-aligned ``prefix.source`` (documents) and ``prefix.target``
    (summaries); the id is the line number."""
    source, target = Path(f"{prefix}.source"), Path(f"{prefix}.target")
    documents, summaries = _lines(source, "document"), _lines(target, "summary")
    if len(documents) != len(summaries):
        raise ReaderError(
            f"{source}: {len(documents)} lines, but {target} has {len(summaries)}"
        )
    if not documents:
        raise ReaderError(f"{source}: empty file")
    return [
        Summary(document=d, summary=s, id=str(n), source=f"{source}:{n}")
        for n, (d, s) in enumerate(zip(documents, summaries), start=1)
    ]


def _default_split_file(directory: Path) -> Path:
    for candidate in (directory / SPLIT_FILE, directory.parent / SPLIT_FILE):
        if candidate.is_file():
            return candidate
    raise ReaderError(
        f"{directory}: no {SPLIT_FILE} inside or next to it; give the split file's path"
    )


def _has(directory: Path, pattern: str) -> bool:
    return next(directory.glob(pattern), None) is not None


def _paired_prefix(path: Path, split: str) -> Optional[Path]:
    """The prefix of ``.source``/``.target`` files that ``path`` names, if both exist."""
    if path.suffix in (".source", ".target"):
        candidates: Sequence[Path] = [path.with_suffix("")]
    elif path.is_dir():
        candidates = [path / split]
    else:
        candidates = [path]
    for prefix in candidates:
        if Path(f"{prefix}.source").is_file() and Path(f"{prefix}.target").is_file():
            return prefix
    return None


def read_xsum(path, split: str = "test", split_file=None) -> List[Summary]:
    """The examples at ``path``, in whichever of the three formats it holds: a directory
    of ``*.summary`` files (``split`` of the split file, found inside or next to it when
    not given), a directory of ``*.data`` files (``split`` only with a split file), or a
    prefix ``X`` (or ``X.source``, or a directory holding ``{split}.source``) of
    ``X.source``/``X.target``."""
    path = Path(path)
    missing: List[str] = []
    if path.is_dir() and _has(path, "*.summary"):
        split_file = split_file if split_file is not None else _default_split_file(path)
        examples, missing = read_xsum_release(path, split_file, split)
    elif path.is_dir() and _has(path, "*.data"):
        examples, missing = read_xsum_data_dir(path, split_file, split)
    else:
        prefix = _paired_prefix(path, split)
        if prefix is None:
            raise ReaderError(
                f"{path}: not an XSUM directory (*.summary or *.data files) nor a prefix "
                "of .source/.target files"
            )
        examples = read_source_target(prefix)
    logger.info(f"{path}: {len(examples)} examples, {len(missing)} ids without a file")
    return examples
