"""Raw text from Universal Dependencies treebanks, as pre-processing input.

The ``# text = ...`` comment of each CoNLL-U sentence is written to ``{lang}.txt``, one
sentence per line and a blank line between documents. Documents follow the treebank's
``# newdoc`` boundaries; a file without any is cut into groups of
``--sentences-per-doc`` sentences. The language code is the file name's prefix
(``en_ewt-ud-train.conllu`` -> ``en``); several files of one language are concatenated
in path order.
"""

import argparse
import re
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional

from ..atomic_files import write_text
from ..cli import command
from .corpus import PipelineError, parse_langs

_TEXT = re.compile(r"^#\s*text\s*=\s?(.*)$")
_NEWDOC = re.compile(r"^#\s*newdoc\b")
_LANG = re.compile(r"^([a-z]{2,3})[_-]")


def language_of(path) -> str:
    """``en_ewt-ud-train.conllu`` -> ``en``."""
    match = _LANG.match(Path(path).name)
    if not match:
        raise PipelineError(
            f"{path}: cannot tell the language (expected e.g. en_ewt-ud-...)"
        )
    return match.group(1)


def find_conllu(inputs: Iterable) -> List[Path]:
    """The ``.conllu`` files given, or found (recursively) under given directories."""
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(item.rglob("*.conllu"))
        elif item.is_file():
            found.append(item)
        else:
            raise PipelineError(f"--input {item}: no such file or directory")
    if not found:
        raise PipelineError(f"--input {' '.join(map(str, inputs))}: no .conllu files")
    return found


def _comment_lines(path: Path) -> List[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.startswith("#")]
    except UnicodeDecodeError as e:
        raise PipelineError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise PipelineError(f"{path}: cannot read: {e.strerror}") from None


def iter_ud_documents(path, sentences_per_doc: int = 10) -> Iterator[List[str]]:
    """The documents of a CoNLL-U file, each a list of sentence texts."""
    comments = _comment_lines(Path(path))
    by_newdoc = any(_NEWDOC.match(line) for line in comments)
    document: List[str] = []
    for line in comments:
        if by_newdoc and _NEWDOC.match(line) and document:
            yield document
            document = []
        text = _TEXT.match(line)
        if text and text.group(1).strip():
            document.append(text.group(1).strip())
            if not by_newdoc and len(document) == sentences_per_doc:
                yield document
                document = []
    if document:
        yield document


def extract(
    inputs: Iterable,
    output,
    langs: Optional[List[str]] = None,
    sentences_per_doc: int = 10,
    overwrite: bool = False,
) -> Dict[str, Dict[str, int]]:
    """Write ``{output}/{lang}.txt`` for the treebanks in ``inputs``; returns counts."""
    if sentences_per_doc < 1:
        raise PipelineError("--sentences-per-doc must be >= 1")
    by_lang: Dict[str, List[Path]] = {}
    for path in find_conllu(inputs):
        by_lang.setdefault(language_of(path), []).append(path)
    if langs:
        missing = [lang for lang in langs if lang not in by_lang]
        if missing:
            raise PipelineError(f"--langs: no treebank for {','.join(missing)}")
        by_lang = {lang: by_lang[lang] for lang in langs}
    output = Path(output)
    targets = {lang: output / f"{lang}.txt" for lang in by_lang}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not overwrite:
        raise PipelineError(f"--output: {existing[0]} exists (use --overwrite)")
    output.mkdir(parents=True, exist_ok=True)
    counts = {}
    for lang, paths in sorted(by_lang.items()):
        docs = [d for p in sorted(paths) for d in iter_ud_documents(p, sentences_per_doc)]
        # never a half-written file under the final name
        write_text(targets[lang], "\n\n".join("\n".join(doc) for doc in docs) + "\n")
        counts[lang] = {"documents": len(docs), "sentences": sum(map(len, docs))}
    return counts


@command
def cli_main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="recipes-ud-text",
        description="Extract the '# text = ' lines of CoNLL-U files into {lang}.txt.",
    )
    parser.add_argument("--input", nargs="+", required=True, help="files or directories")
    parser.add_argument("--output", required=True, help="directory for {lang}.txt")
    parser.add_argument("--langs", default=None, help="comma-separated (default: all)")
    parser.add_argument(
        "--sentences-per-doc",
        type=int,
        default=10,
        help="document size for files without '# newdoc' (default: %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace {lang}.txt")
    args = parser.parse_args(argv)
    counts = extract(
        args.input,
        args.output,
        parse_langs(args.langs),
        args.sentences_per_doc,
        args.overwrite,
    )
    for lang, c in counts.items():
        print(f"{lang}: {c['documents']} documents, {c['sentences']} sentences")


if __name__ == "__main__":
    cli_main()
