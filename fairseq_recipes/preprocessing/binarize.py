"""Raw multilingual text -> SentencePiece -> sharded fairseq mmap datasets.

Output (``--output OUT``)::

    OUT/manifest.json                  counts, shards, alpha, p_i, vocabulary
    OUT/spm.model, OUT/spm.vocab       the shared SentencePiece model
    OUT/dict.txt                       fairseq dictionary (ids = the model's, see vocab.py)
    OUT/shard{K}/dict.txt              copies: fairseq reads dict.txt from the first path
    OUT/shard{K}/{lang}/train.{bin,idx}  one item per document, content tokens only
    OUT/shard0/{lang}/valid.{bin,idx}  the last --valid-docs documents of each language

Documents go to shards round-robin in input order, so ``fairseq-train
OUT/shard0:OUT/shard1:...`` walks the shards across epochs. Everything is built in
``OUT.tmp-<pid>`` and renamed to OUT at the end (``atomic_files.atomic_directory``): an
interrupted run leaves OUT as it was, and the next run removes its ``OUT.tmp-<pid>``.
"""

import argparse
import os
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict

import numpy as np
import torch
from fairseq.data import indexed_dataset
from tqdm import tqdm

from .. import paper
from ..atomic_files import atomic_directory, check_output_folder
from ..cli import command
from ..data.sampling import sampling_probabilities
from .corpus import (
    PipelineError,
    discover_inputs,
    iter_documents,
    parse_langs,
    scan_inputs,
)
from .manifest import MANIFEST_NAME, LanguageStats, format_summary, write_manifest
from .vocab import (
    UNUSED_SYMBOL_RE,
    ParallelTokenizer,
    SpmTokenizer,
    iter_spm_sample,
    load_dictionary,
    load_spm,
    spm_sample_plan,
    train_spm,
    write_dictionary,
    write_spm_vocab,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recipes-preprocess",
        description="Binarize raw multilingual text ({lang}.txt[.gz] or "
        "{lang}.jsonl[.gz] per language) into sharded fairseq datasets.",
    )
    add = parser.add_argument
    add("--input", required=True, help="directory of {lang}.txt/.jsonl[.gz] files")
    add("--output", required=True, help="output directory (new, or see --overwrite)")
    add("--langs", default=None, help="comma-separated languages (default: all found)")
    add(
        "--vocab-size",
        type=int,
        default=32000,
        help="SentencePiece vocabulary size, an upper bound: a small corpus gets "
        "fewer pieces, the manifest has the real size (default: %(default)s)",
    )
    add("--spm-model-type", default="unigram", choices=["unigram", "bpe"])
    add("--character-coverage", type=float, default=paper.CHARACTER_COVERAGE)
    add(
        "--spm-sample-size",
        type=int,
        default=1_000_000,
        help="sentences drawn (alpha-balanced across languages) to train "
        "SentencePiece (default: %(default)s)",
    )
    add("--spm-model", default=None, help="use this SentencePiece model, no training")
    add(
        "--dictionary-size",
        type=int,
        default=0,
        help="pad the dictionary with unused symbols (madeupword0000, ...) to this many "
        "entries, fairseq's specials included, e.g. 250002 for the shapes of XLM-R's "
        "vocabulary without its SentencePiece model (a rehearsal device: the padding "
        "rows are never seen in text); default: no padding",
    )
    add(
        "--alpha",
        type=float,
        default=paper.SAMPLING_ALPHA,
        help="language sampling exponent, p_i ~ (n_i/N)^alpha (default: %(default)s)",
    )
    add("--num-shards", type=int, default=1, help="train shards, one per epoch")
    add(
        "--valid-docs",
        type=int,
        default=1000,
        help="validation documents per language, the last ones of its file, at most "
        "all but one; 0: no validation split. A language with a single document is "
        "an error unless 0 (default: %(default)s)",
    )
    add(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="encoding processes (default: min(4, cpus)); the output does not depend on it",
    )
    add(
        "--spm-threads",
        type=int,
        default=1,
        help="SentencePiece training threads (default: 1; the trained pieces depend on "
        "the thread count, so 1 keeps the output the same on every machine)",
    )
    add("--seed", type=int, default=1, help="seed of the SentencePiece training sample")
    add(
        "--overwrite",
        action="store_true",
        help="replace an existing --output (only once the new one is complete)",
    )
    return parser


def plan_splits(stats: Dict[str, LanguageStats], valid_docs: int, num_shards: int):
    """Hold out the last ``valid_docs`` documents (all but one at most) per language."""
    for lang, s in stats.items():
        if valid_docs > 0 and s.documents < 2:
            raise PipelineError(
                f"{s.source}: a single document cannot be split into train and valid "
                "(add documents or use --valid-docs 0)"
            )
        s.valid_documents = min(valid_docs, s.documents - 1)
        s.train_documents = s.documents - s.valid_documents
        if s.train_documents < num_shards:
            raise PipelineError(
                f"--num-shards {num_shards}: {s.source} has only "
                f"{s.train_documents} training documents, a shard would be empty"
            )


def prepare_vocab(args, inputs, stats, sentences, work: Path) -> Path:
    """Train (or copy) the spm model into ``work``; write dict.txt; return the model."""
    model = work / "spm.model"
    if args.spm_model:
        write_spm_vocab(load_spm(args.spm_model), work / "spm.vocab")
        shutil.copyfile(args.spm_model, model)
    else:
        train_docs = {lang: s.train_documents for lang, s in stats.items()}
        counts = {lang: int(sentences[lang][: train_docs[lang]].sum()) for lang in stats}
        plan = spm_sample_plan(counts, args.spm_sample_size, args.alpha, args.seed)
        sample = iter_spm_sample(inputs, plan, train_docs)
        train_spm(
            sample,
            work / "spm",
            vocab_size=args.vocab_size,
            model_type=args.spm_model_type,
            character_coverage=args.character_coverage,
            num_threads=args.spm_threads,
        )
    write_dictionary(model, work / "dict.txt", size=args.dictionary_size)
    return model


def encode_language(lang, path, s: LanguageStats, encode, work, vocab_size, bar):
    """Second pass over one language: encode; write its train shards and valid split."""
    num_shards = len(s.shard_documents)
    outputs = [(f"shard{k}", "train") for k in range(num_shards)]
    if s.valid_documents:
        outputs.append(("shard0", "valid"))
    prefixes = [work / shard / lang / split for shard, split in outputs]
    builders = []
    for prefix in prefixes:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        builders.append(
            indexed_dataset.make_builder(
                f"{prefix}.bin", impl="mmap", vocab_size=vocab_size
            )
        )
    index = 0
    for flat, lengths in encode(iter_documents(path)):
        for ids in np.split(flat, np.cumsum(lengths)[:-1]):
            if index < s.train_documents:
                target = index % num_shards
                s.shard_documents[target] += 1
                s.shard_tokens[target] += len(ids)
            else:
                target = num_shards  # the valid builder
                s.valid_tokens += len(ids)
            builders[target].add_item(torch.from_numpy(ids))
            index += 1
        bar.update(len(lengths))
    if index != s.documents:
        raise PipelineError(f"{path}: the file changed while reading it")
    s.train_tokens = sum(s.shard_tokens)
    for builder, prefix in zip(builders, prefixes):
        builder.finalize(f"{prefix}.idx")


def build(args, inputs: Dict[str, Path], work: Path) -> dict:
    """The whole pipeline into the (empty) directory ``work``; returns the manifest."""
    start = time.time()
    read = scan_inputs(inputs, count_sentences=not args.spm_model)
    stats = {
        lang: LanguageStats(
            source=inputs[lang].name,
            documents=r.documents,
            invalid_utf8_lines=r.invalid_utf8_lines,
        )
        for lang, r in read.items()
    }
    sentences = {
        lang: np.array(r.doc_sentences, dtype=np.int64) for lang, r in read.items()
    }
    plan_splits(stats, args.valid_docs, args.num_shards)
    model = prepare_vocab(args, inputs, stats, sentences, work)
    dictionary = load_dictionary(work / "dict.txt")
    tokenizer = SpmTokenizer(model, dictionary)
    for s in stats.values():
        s.shard_documents = [0] * args.num_shards
        s.shard_tokens = [0] * args.num_shards
    total_docs = sum(s.documents for s in stats.values())
    with ParallelTokenizer(tokenizer, args.workers) as encode, tqdm(
        total=total_docs, desc="encoding", unit="doc"
    ) as bar:
        for lang, path in inputs.items():
            bar.set_postfix(lang=lang)
            encode_language(lang, path, stats[lang], encode, work, len(dictionary), bar)
    for k in range(args.num_shards):
        shutil.copyfile(work / "dict.txt", work / f"shard{k}" / "dict.txt")
    langs = list(inputs)
    probs = sampling_probabilities(
        [stats[lang].train_tokens for lang in langs], args.alpha
    )
    manifest = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - start, 2),
        "input": str(Path(args.input).resolve()),
        "languages": langs,
        "shards": [f"shard{k}" for k in range(args.num_shards)],
        "alpha": args.alpha,
        "sampling_probabilities": dict(zip(langs, probs.round(6).tolist())),
        "vocab_size": len(dictionary),
        # unused symbols that --dictionary-size added after the real ones
        "dictionary_padding": sum(
            1 for s in dictionary.symbols if UNUSED_SYMBOL_RE.fullmatch(s)
        ),
        "dictionary": "dict.txt",
        "spm_model": "spm.model",
        "spm": {
            "source": str(Path(args.spm_model).resolve()) if args.spm_model else None,
            "pieces": tokenizer.processor.get_piece_size(),
            "vocab_size_requested": None if args.spm_model else args.vocab_size,
            "model_type": None if args.spm_model else args.spm_model_type,
            "character_coverage": None if args.spm_model else args.character_coverage,
            "sample_size": None if args.spm_model else args.spm_sample_size,
        },
        "seed": args.seed,
        "valid_docs": args.valid_docs,
        "per_language": {lang: stats[lang].to_dict() for lang in langs},
    }
    write_manifest(work, manifest)
    return manifest


def check_values(args) -> None:
    """Option values that would fail late (or silently) are refused up front."""
    positive = ["vocab_size", "spm_sample_size", "num_shards", "workers", "spm_threads"]
    for name in positive:
        if getattr(args, name) < 1:
            raise PipelineError(f"--{name.replace('_', '-')} must be >= 1")
    if args.valid_docs < 0:
        raise PipelineError("--valid-docs must be >= 0")
    if args.dictionary_size < 0:
        raise PipelineError("--dictionary-size must be >= 0 (0: no padding)")
    if not 0 < args.character_coverage <= 1:
        raise PipelineError("--character-coverage must be in (0, 1]")
    if not np.isfinite(args.alpha) or args.alpha < 0:
        raise PipelineError("--alpha must be a number >= 0")


def check_args(args) -> None:
    """The option values, then the paths: nothing is written before both pass."""
    check_values(args)
    if args.spm_model and not Path(args.spm_model).is_file():
        raise PipelineError(f"--spm-model {args.spm_model}: no such file")
    check_output_folder(Path(args.output))
    output, source = Path(args.output).resolve(), Path(args.input).resolve()
    if output == source or output in source.parents:
        raise PipelineError(f"--output {args.output} must not contain --input")
    if os.path.lexists(output):
        if not args.overwrite:
            raise PipelineError(
                f"--output {args.output} already exists (use --overwrite to replace it)"
            )
        if not output.is_dir() or not (
            (output / MANIFEST_NAME).is_file() or not any(output.iterdir())
        ):
            raise PipelineError(
                f"--output {args.output} is not a recipes-preprocess output; "
                "refusing to replace it even with --overwrite"
            )


def preprocess(args) -> dict:
    """Run the pipeline for parsed ``args``; returns the manifest written."""
    check_args(args)
    inputs = discover_inputs(args.input, parse_langs(args.langs))
    # check_args decided whether an existing output may go (--overwrite, ours)
    with atomic_directory(args.output, may_replace=lambda _: None) as work:
        return build(args, inputs, work)


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)  # SystemExit unwinds, so the temporary directory is removed


@command
def cli_main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    manifest = preprocess(args)
    print(format_summary(args.output, manifest))


if __name__ == "__main__":
    cli_main()
