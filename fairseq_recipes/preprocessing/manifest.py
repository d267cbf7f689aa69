"""``manifest.json`` of a binarized corpus, and the fairseq arguments derived from it.

The manifest says what ``recipes-preprocess`` wrote: per language its documents and
tokens (train and valid, per shard), the shards, the sampling exponent alpha and the
probabilities p_i over train tokens, the vocabulary. ``fairseq-train`` needs two strings
from it, printed by this module's CLI::

    python -m fairseq_recipes.preprocessing.manifest data-path DIR      # DIR/shard0:DIR/shard1:...
    python -m fairseq_recipes.preprocessing.manifest valid-subsets DIR  # valid_en,valid_fr,...
"""

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List

from ..cli import command
from .corpus import PipelineError

MANIFEST_NAME = "manifest.json"
FORMAT = "fairseq_recipes.pretraining_data"
VERSION = 1
_REQUIRED_KEYS = ("languages", "shards", "per_language", "vocab_size", "alpha")


@dataclass
class LanguageStats:
    """One language's counts; tokens are content tokens (no bos/eos/[DOC])."""

    source: str
    documents: int = 0
    invalid_utf8_lines: int = 0
    train_documents: int = 0
    train_tokens: int = 0
    valid_documents: int = 0
    valid_tokens: int = 0
    shard_documents: List[int] = field(default_factory=list)
    shard_tokens: List[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def manifest_path(path_or_dir) -> Path:
    path = Path(path_or_dir)
    return path / MANIFEST_NAME if path.is_dir() else path


def write_manifest(out_dir, manifest: dict) -> Path:
    path = Path(out_dir) / MANIFEST_NAME
    payload = {"format": FORMAT, "version": VERSION, **manifest}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return path


def read_manifest(path_or_dir) -> dict:
    """The manifest of a binarized corpus directory (or of the file itself)."""
    path = manifest_path(path_or_dir)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise PipelineError(f"{path}: no manifest (not a recipes-preprocess output?)")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PipelineError(f"{path}: unreadable manifest: {e}") from None
    missing = [
        k for k in _REQUIRED_KEYS if not isinstance(manifest, dict) or k not in manifest
    ]
    if missing or manifest.get("format") != FORMAT:
        raise PipelineError(f"{path}: not a {FORMAT} manifest (missing {missing})")
    return manifest


def _root(path_or_dir) -> Path:
    return manifest_path(path_or_dir).parent


def shard_dirs(path_or_dir) -> List[Path]:
    """The shard directories, in the order fairseq should walk them."""
    root = _root(path_or_dir)
    return [root / shard for shard in read_manifest(path_or_dir)["shards"]]


def data_path(path_or_dir) -> str:
    """fairseq's ``DATA`` argument: the shard directories joined with ``:``."""
    return ":".join(str(shard) for shard in shard_dirs(path_or_dir))


def valid_subsets(path_or_dir) -> List[str]:
    """``["valid_en", "valid_fr", ...]``: one subset per language with a valid split."""
    manifest = read_manifest(path_or_dir)
    return [
        f"valid_{lang}"
        for lang in manifest["languages"]
        if manifest["per_language"][lang]["valid_documents"] > 0
    ]


def format_summary(output, manifest: dict) -> str:
    """A per-language table and the totals, as ``recipes-preprocess`` prints them."""
    per_lang = manifest["per_language"]
    total = {
        key: sum(s[key] for s in per_lang.values())
        for key in ("documents", "train_tokens", "valid_tokens", "invalid_utf8_lines")
    }
    lines = [f"{'lang':<6}{'docs':>10}{'train tokens':>14}{'valid tokens':>14}{'p_i':>8}"]
    for lang, s in per_lang.items():
        p = manifest["sampling_probabilities"][lang]
        lines.append(
            f"{lang:<6}{s['documents']:>10,}{s['train_tokens']:>14,}"
            f"{s['valid_tokens']:>14,}{p:>8.3f}"
        )
    asked = manifest.get("spm", {}).get("vocab_size_requested")
    requested = (
        f" (asked for {asked:,})" if asked and asked != manifest["vocab_size"] else ""
    )
    lines.append(
        f"wrote {output}: {len(per_lang)} languages, {total['documents']:,} documents, "
        f"{total['train_tokens'] + total['valid_tokens']:,} tokens, "
        f"{len(manifest['shards'])} shard(s), vocabulary {manifest['vocab_size']:,}"
        f"{requested}, "
        f"{manifest['seconds']:.1f} s"
    )
    skipped = ", ".join(
        f"{lang}: {s['invalid_utf8_lines']}"
        for lang, s in per_lang.items()
        if s["invalid_utf8_lines"]
    )
    lines.append(
        f"skipped {total['invalid_utf8_lines']} invalid UTF-8 lines"
        + (f" ({skipped})" if skipped else "")
    )
    return "\n".join(lines)


@command
def cli_main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_recipes.preprocessing.manifest",
        description="Print fairseq arguments for a recipes-preprocess output directory.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("data-path", help="DIR/shard0:DIR/shard1:... for fairseq-train")
    sub.add_parser("valid-subsets", help="valid_en,valid_fr,... for --valid-subset")
    for subcommand in sub.choices.values():
        subcommand.add_argument(
            "dir", help="the --output directory of recipes-preprocess"
        )
    args = parser.parse_args(argv)
    if args.command == "data-path":
        print(data_path(args.dir))
    else:
        print(",".join(valid_subsets(args.dir)))


if __name__ == "__main__":
    cli_main()
