"""Raw multilingual text readers: one input file per language, read as documents.

An input directory holds ``{lang}.txt``, ``{lang}.txt.gz``, ``{lang}.jsonl`` or
``{lang}.jsonl.gz``. Plain text: documents are separated by one or more blank lines and
a document's lines are joined with a space. JSONL: one document per line, in the
``text`` field. Lines that are not valid UTF-8 are skipped and counted: web-scale text
always has a few. A file that is not UTF-8 text at all (a UTF-16 or UTF-32 byte-order
mark, NUL bytes, or more than 10% invalid lines) is refused with one line saying what
it looks like: read as UTF-8 it would become ``<unk>`` tokens.
"""

import gzip
import json
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional

from tqdm import tqdm

from ..errors import RecipesError

#: suffixes of the input files, in the order they are reported
INPUT_SUFFIXES = (".txt", ".txt.gz", ".jsonl", ".jsonl.gz")
_INPUT_NAME = re.compile(
    r"^(?P<lang>[A-Za-z][A-Za-z0-9_-]*)(?P<suffix>\.txt|\.jsonl)(\.gz)?$"
)
# sentence ends: Latin/Cyrillic/Devanagari/Arabic punctuation followed by a space, or CJK
# full stops, which are not followed by one
_SENTENCE_END = re.compile(r"(?<=[.!?।؟])\s+|(?<=[。！？])")


class PipelineError(RecipesError):
    """Bad input or options: the message is one line naming the file or option."""


@dataclass
class ReadStats:
    """What reading one file found besides its documents."""

    documents: int = 0
    lines: int = 0
    invalid_utf8_lines: int = 0
    #: sentences of each document, when counted (see ``scan_inputs``)
    doc_sentences: List[int] = field(default_factory=list)


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


#: byte-order marks of encodings that are not UTF-8, longest first
_FOREIGN_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian byte-order mark)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian byte-order mark)"),
    (b"\xfe\xff", "UTF-16 (big-endian byte-order mark)"),
    (b"\xff\xfe", "UTF-16 (little-endian byte-order mark)"),
)
#: more invalid lines than this share, and the file is in another encoding: web text has
#: a few broken lines (far below 1%), a Latin-1 or UTF-16 file breaks most of its lines
INVALID_SHARE_LIMIT = 0.1
_SNIFF_BYTES = 1 << 16


def not_utf8_text(head: bytes) -> Optional[str]:
    """What the first bytes of a file look like when it is not UTF-8 text, else None."""
    for bom, name in _FOREIGN_BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" in head:
        share = head.count(b"\x00") / max(1, len(head))
        if share > 0.2:
            return f"UTF-16 or UTF-32 without a byte-order mark ({share:.0%} NUL bytes)"
        return "a binary file (NUL bytes)"
    return None


def _decoded_lines(path: Path, stats: ReadStats) -> Iterator[tuple]:
    """(line number, text without the newline) for each valid UTF-8 line."""
    try:
        with _open_binary(path) as f:
            looks = not_utf8_text(f.peek(_SNIFF_BYTES)[:_SNIFF_BYTES])
            if looks:
                raise PipelineError(f"{path}: not UTF-8 text: it looks like {looks}")
            for lineno, raw in enumerate(f, start=1):
                stats.lines += 1
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    stats.invalid_utf8_lines += 1
                    continue
                if lineno == 1:
                    line = line.lstrip("\ufeff")
                yield lineno, line.rstrip("\r\n")
    except (OSError, EOFError, zlib.error) as e:
        raise PipelineError(f"{path}: cannot read: {e}") from None


def _plain_documents(path: Path, stats: ReadStats) -> Iterator[str]:
    lines: List[str] = []
    for _, line in _decoded_lines(path, stats):
        line = line.strip()
        if line:
            lines.append(line)
        elif lines:
            yield " ".join(lines)
            lines = []
    if lines:
        yield " ".join(lines)


def _jsonl_documents(path: Path, stats: ReadStats) -> Iterator[str]:
    for lineno, line in _decoded_lines(path, stats):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise PipelineError(f"{path}:{lineno}: malformed JSONL line: {e}") from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise PipelineError(
                f"{path}:{lineno}: malformed JSONL line: no string 'text' field"
            )
        # same whitespace convention as plain text: a document is one line of words
        text = " ".join(text.split())
        if text:
            yield text


def iter_documents(path, stats: Optional[ReadStats] = None) -> Iterator[str]:
    """The documents of one input file, in file order; empty documents are dropped.

    ``stats`` (if given) is updated in place with the documents read and the invalid
    UTF-8 lines skipped.
    """
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    is_jsonl = path.name.endswith((".jsonl", ".jsonl.gz"))
    reader = _jsonl_documents if is_jsonl else _plain_documents
    for doc in reader(path, stats):
        stats.documents += 1
        yield doc


def split_sentences(document: str) -> List[str]:
    """A rough sentence split, good enough to sample tokenizer training text."""
    return [s for s in _SENTENCE_END.split(document) if s.strip()]


def parse_langs(value: Optional[str]) -> Optional[List[str]]:
    """``"en,fr"`` -> ``["en", "fr"]``; empty or None -> None (all languages)."""
    if not value:
        return None
    langs = [lang.strip() for lang in value.split(",") if lang.strip()]
    return langs or None


def discover_inputs(input_dir, langs: Optional[Iterable[str]] = None) -> Dict[str, Path]:
    """Map each language to its input file in ``input_dir`` (sorted by language).

    Files with other names are ignored. Errors: the directory is missing or holds no input
    file, a requested language has no file, or one language has two files.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise PipelineError(f"--input {input_dir}: no such directory")
    found: Dict[str, Path] = {}
    for path in sorted(input_dir.iterdir()):
        match = _INPUT_NAME.match(path.name)
        if not match or not path.is_file():
            continue
        lang = match.group("lang")
        if lang in found:
            raise PipelineError(
                f"--input {input_dir}: two files for language {lang!r}: "
                f"{found[lang].name} and {path.name}"
            )
        found[lang] = path
    if not found:
        names = ", ".join("{lang}" + s for s in INPUT_SUFFIXES)
        raise PipelineError(f"--input {input_dir}: no input files (expected {names})")
    if langs is None:
        return dict(sorted(found.items()))
    langs = list(dict.fromkeys(langs))
    missing = [lang for lang in langs if lang not in found]
    if missing:
        raise PipelineError(
            f"--langs: no input file for {','.join(missing)} in {input_dir} "
            f"(found: {','.join(sorted(found))})"
        )
    return {lang: found[lang] for lang in sorted(langs)}


def scan_inputs(
    inputs: Dict[str, Path], count_sentences: bool = False
) -> Dict[str, ReadStats]:
    """A first pass over every input: documents, invalid lines, sentences per document.

    A language without any document is an error; skipped lines are warned about.
    """
    found = {}
    with tqdm(desc="reading", unit="doc") as bar:
        for lang, path in inputs.items():
            bar.set_postfix(lang=lang)
            stats = found[lang] = ReadStats()
            for doc in iter_documents(path, stats):
                if count_sentences:
                    stats.doc_sentences.append(len(split_sentences(doc)))
                bar.update()
            if stats.invalid_utf8_lines > INVALID_SHARE_LIMIT * stats.lines:
                raise PipelineError(
                    f"{path}: not UTF-8 text: {stats.invalid_utf8_lines:,} of "
                    f"{stats.lines:,} lines are not valid UTF-8 (another encoding, such as "
                    "Latin-1? convert it with iconv)"
                )
            if stats.documents == 0:
                raise PipelineError(f"{path}: no text (language {lang!r} is empty)")
            if stats.invalid_utf8_lines:
                tqdm.write(
                    f"warning: {path}: skipped {stats.invalid_utf8_lines} invalid "
                    "UTF-8 lines",
                    file=sys.stderr,
                )
    return found
