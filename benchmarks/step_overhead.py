"""Training step time of ``bart_12e12d`` (plugin) against stock fairseq ``bart`` of the
same shape, scaled down in width: the plugin's overhead as a ratio (goal: <= 1.03).

Both models train on the same span-denoising batches through fairseq's Trainer; steps
alternate between the two so that load on a shared machine hits both alike.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

WIDTH = ["--encoder-embed-dim", "128", "--encoder-ffn-embed-dim", "512",
         "--encoder-attention-heads", "4", "--decoder-embed-dim", "128",
         "--decoder-ffn-embed-dim", "512", "--decoder-attention-heads", "4"]  # fmt: skip
# stock bart_large with the flags that make it the same network as bart_12e12d
STOCK = ["--encoder-normalize-before", "--decoder-normalize-before",
         "--layernorm-embedding", "--max-source-positions", "512",
         "--max-target-positions", "512", "--attention-dropout", "0.1"]  # fmt: skip


def _data(workdir: Path) -> Path:
    from fairseq_recipes.data import binarize, toy_corpus

    toy_corpus.cli_main(["--output", str(workdir / "text"), "--docs-per-lang", "40"])
    binarize.cli_main(["--input", str(workdir / "text"), "--output", str(workdir / "bin"),
                       "--vocab-size", "2000", "--valid-docs", "2"])  # fmt: skip
    return workdir / "bin" / "shard0"


def _trainer(data, arch, extra):
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(data), "--user-dir",
        str(Path(__file__).resolve().parents[1] / "fairseq_recipes"), "--cpu",
        "--task", "recipes_span_denoising", "--arch", arch, "--criterion",
        "cross_entropy", "--optimizer", "adam", "--lr", "1e-4", "--tokens-per-sample",
        "256", "--max-tokens", "4096", *WIDTH, *extra])  # fmt: skip
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    return task, Trainer(cfg, task, model, criterion)


def run(quick: bool = True) -> dict:
    torch.manual_seed(0)
    steps = 6 if quick else 30
    with tempfile.TemporaryDirectory() as tmp:
        data = _data(Path(tmp))
        task, ours = _trainer(data, "bart_12e12d", [])
        _, stock = _trainer(data, "bart_large", STOCK)
        n_ours = sum(p.numel() for p in ours.model.parameters())
        n_stock = sum(p.numel() for p in stock.model.parameters())
        task.load_dataset("valid")
        ds = task.dataset("valid")
        batch = ds.collater([ds[i] for i in range(min(len(ds), 16))])
        times = {"plugin": 0.0, "stock": 0.0}
        for step in range(steps + 1):
            for name, trainer in (("plugin", ours), ("stock", stock)):
                start = time.perf_counter()
                trainer.train_step([batch])
                if step > 0:  # the first step warms up
                    times[name] += time.perf_counter() - start
    return {
        "params_plugin": n_ours,
        "params_stock": n_stock,
        "step_s_plugin": times["plugin"] / steps,
        "step_s_stock": times["stock"] / steps,
        "overhead_ratio": times["plugin"] / times["stock"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for key, value in run(parser.parse_args().quick).items():
        print(
            f"{key:<16} {value:,.4f}"
            if isinstance(value, float)
            else f"{key:<16} {value:,}"
        )
