"""Loading a checkpoint at the paper's shapes: fairseq's loader as it comes (the model's
random initialisation drawn, then replaced) against the plugin's
(``compat/load_without_init.py``: built on the meta device, the checkpoint's tensors
assigned).

A ``bart_12e12d`` of the paper's shape (width 1024, FFN 4096, 16 heads, 12 + 12 layers,
a dictionary padded to XLM-R's 250,002 entries: 610M parameters, a 2.4 GB checkpoint
without optimizer state; ``--quick``: width 256 and the toy dictionary) is saved by
fairseq's Trainer and loaded by ``load_model_ensemble_and_task`` in turn the stock way
and the plugin's; each figure is the median over the rounds. This is the load that
``fairseq-generate`` pays once per test language of a seq2seq evaluation (mTOP: 8).
Also printed: the share of a load that is ``torch.load`` of the file (both ways pay it),
and whether the two ways give bit-identical weights.

    python benchmarks/checkpoint_load.py [--quick]
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
from benchmarks.figures import cli  # noqa: E402
from benchmarks.toy_training import toy_shard, trainer  # noqa: E402

XLMR_DICTIONARY = 250_002  # the size of XLM-R's dictionary (paper.py's source)
PAPER_SHAPE = ["1024", "4096", "16"]
QUICK_SHAPE = ["256", "1024", "4"]


def _checkpoint(workdir: Path, quick: bool) -> Path:
    data = toy_shard(workdir, 10, 0 if quick else XLMR_DICTIONARY)
    dim, ffn, heads = QUICK_SHAPE if quick else PAPER_SHAPE
    shape = []
    for side in ("encoder", "decoder"):
        shape += [f"--{side}-embed-dim", dim, f"--{side}-ffn-embed-dim", ffn]
        shape += [f"--{side}-attention-heads", heads]
    args = ["--task", "recipes_span_denoising", "--arch", "bart_12e12d", *shape]
    args += ["--criterion", "cross_entropy", "--optimizer", "adam", "--lr", "1e-4"]
    args += ["--no-save-optimizer-state", "--save-dir", str(workdir)]
    _, side = trainer(data, *args)
    path = workdir / "checkpoint.pt"
    side.save_checkpoint(str(path), {})
    del side
    return path


def _timed(load, path):
    start = time.perf_counter()
    (model,), _, _ = load([str(path)])
    return time.perf_counter() - start, model


def run(quick: bool = True) -> dict:
    from fairseq import checkpoint_utils

    rounds = 2 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        path = _checkpoint(Path(tmp), quick)  # imports the plugin, which wraps the loader
        plugin = checkpoint_utils.load_model_ensemble_and_task
        stock = plugin.__wrapped__  # functools.wraps keeps fairseq's own loader there
        seconds = {"stock": [], "plugin": [], "torch_load": []}
        identical = True
        for _ in range(rounds):
            start = time.perf_counter()
            checkpoint_utils.load_checkpoint_to_cpu(str(path))
            seconds["torch_load"].append(time.perf_counter() - start)
            t_stock, stock_model = _timed(stock, path)
            stock_weights = stock_model.state_dict()
            del stock_model
            t_plugin, plugin_model = _timed(plugin, path)
            ours = plugin_model.state_dict()
            identical &= ours.keys() == stock_weights.keys() and all(
                torch.equal(ours[k], stock_weights[k]) for k in ours
            )
            parameters = sum(p.numel() for p in plugin_model.parameters())
            del plugin_model, ours, stock_weights
            seconds["stock"].append(t_stock)
            seconds["plugin"].append(t_plugin)
        size = path.stat().st_size
    median = {k: statistics.median(v) for k, v in seconds.items()}
    return {
        "shape": "quick (width 256, toy dictionary)" if quick else "paper (width 1024)",
        "parameters": parameters,
        "checkpoint_gb": round(size / 1e9, 2),
        "threads": torch.get_num_threads(),
        "load_1min": os.getloadavg()[0],
        "rounds": rounds,
        "stock_s": round(median["stock"], 2),
        "plugin_s": round(median["plugin"], 2),
        "plugin_over_stock": round(median["plugin"] / median["stock"], 3),
        "torch_load_s": round(median["torch_load"], 2),
        "weights_identical": identical,
    }


if __name__ == "__main__":
    cli(run, __doc__)
