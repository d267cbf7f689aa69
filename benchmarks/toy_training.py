"""What the training benchmarks share: a small preprocessed toy corpus and a fairseq
Trainer built in-process from command-line style arguments (CPU)."""

from pathlib import Path

import torch

PLUGIN = Path(__file__).resolve().parents[1] / "fairseq_recipes"


def toy_shard(workdir: Path) -> Path:
    """The first shard of a preprocessed toy corpus (8 languages, 40 documents each)."""
    from fairseq_recipes.data import binarize, toy_corpus

    toy_corpus.cli_main(["--output", str(workdir / "text"), "--docs-per-lang", "40"])
    binarize.cli_main(["--input", str(workdir / "text"), "--output", str(workdir / "bin"),
                       "--vocab-size", "2000", "--valid-docs", "2"])  # fmt: skip
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
