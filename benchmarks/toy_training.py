"""What the training benchmarks share: a small preprocessed toy corpus and a fairseq
Trainer built in-process from command-line style arguments (CPU)."""

import contextlib
import sys
from pathlib import Path

import torch

PLUGIN = Path(__file__).resolve().parents[1] / "fairseq_recipes"


def toy_shard(workdir: Path, docs_per_lang: int = 40, dictionary_size: int = 0) -> Path:
    """The first shard of a preprocessed toy corpus (8 languages, ``docs_per_lang``
    documents each; ``dictionary_size``: the dictionary padded to that many entries)."""
    from fairseq_recipes.preprocessing import binarize
    from fairseq_recipes.toy import corpus as toy_corpus

    # their reports go to stderr: stdout is the benchmarks' table
    with contextlib.redirect_stdout(sys.stderr):
        toy_corpus.cli_main(
            ["--output", str(workdir / "text"), "--docs-per-lang", str(docs_per_lang)]
        )
        binarize.cli_main(
            [
                "--input",
                str(workdir / "text"),
                "--output",
                str(workdir / "bin"),
                "--vocab-size",
                "2000",
                "--valid-docs",
                "2",
                "--dictionary-size",
                str(dictionary_size),
            ]
        )
    return workdir / "bin" / "shard0"


def trainer(data: Path, *args: str):
    """(task, fairseq Trainer) for ``fairseq-train data --cpu *args``; the model's weights
    are drawn from seed 0, so two trainers of the same shape start equal."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    parser = options.get_training_parser()
    ns = options.parse_args_and_arch(
        parser, [str(data), "--user-dir", str(PLUGIN), "--cpu", *args]
    )
    cfg = convert_namespace_to_omegaconf(ns)
    task = tasks.setup_task(cfg.task)
    torch.manual_seed(0)
    model = task.build_model(cfg.model)
    return task, Trainer(cfg, task, model, task.build_criterion(cfg.criterion))


def fixed_batches(task, data: Path, n: int, batch: int, lang: str = "en") -> list:
    """``n`` batches of ``batch`` training blocks of one language, noised by the task
    (a new noise draw per batch): the same work for every model that trains on them."""
    blocks = task._blocks(str(data), lang, "train")
    noised = task.build_noised_dataset(blocks, "train")
    out = []
    for step in range(n):
        noised.set_epoch(step + 1)
        indices = [(step * batch + i) % len(noised) for i in range(batch)]
        out.append(noised.collater([noised[i] for i in indices]))
    return out
