"""Training step time of ``bart_12e12d`` (plugin) against stock fairseq ``bart`` of the
same shape, scaled down in width: the plugin's overhead as a ratio (goal: <= 1.03).

Each side runs its own whole step on the same packed blocks: the plugin noises them with
``SpanNoiseDataset`` (mask mode) and trains ``bart_12e12d`` through the plugin's task;
stock fairseq noises them with its ``DenoisingDataset`` (replace_length 1, the same 15% in
Poisson(3) spans, no rotation, permutation nor insertion) and trains ``bart_large`` with
the flags that make it the same network. Both models start from the same weights. Steps
alternate between the two, so that load on a shared machine hits both alike, and the
ratio is reported as the median of the per-pair ratios (robust to a disturbed step) and
as the ratio of the summed times.

    python benchmarks/step_overhead.py [--quick]
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from fairseq.data import DenoisingDataset

from fairseq_recipes import paper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
from benchmarks.figures import cli  # noqa: E402
from benchmarks.toy_training import toy_shard, trainer  # noqa: E402

WIDTH = [
    "--encoder-embed-dim",
    "128",
    "--encoder-ffn-embed-dim",
    "512",
    "--encoder-attention-heads",
    "4",
    "--decoder-embed-dim",
    "128",
    "--decoder-ffn-embed-dim",
    "512",
    "--decoder-attention-heads",
    "4",
]
# stock bart_large with the flags that make it the same network as bart_12e12d
STOCK = [
    "--encoder-normalize-before",
    "--decoder-normalize-before",
    "--layernorm-embedding",
    "--max-source-positions",
    "512",
    "--max-target-positions",
    "512",
    "--attention-dropout",
    "0.1",
]
BLOCK = 256
BATCH = 16
COMMON = [
    "--task",
    "recipes_span_denoising",
    "--noise-mode",
    "mask",
    "--criterion",
    "cross_entropy",
    "--optimizer",
    "adam",
    "--lr",
    "1e-4",
    "--tokens-per-sample",
    str(BLOCK),
    "--max-tokens",
    "8192",
    *WIDTH,
]


def _noisers(task, data):
    """(plugin noiser, fairseq noiser) over the same packed training blocks."""
    blocks = task._blocks(str(data), "en", "train")
    ours = task.build_noised_dataset(blocks, "train")
    stock = DenoisingDataset(
        blocks,
        blocks.sizes,
        task.dictionary,
        task.mask_idx,
        mask_whole_words=None,
        shuffle=False,
        seed=1,
        mask=paper.SPAN_NOISE_RATIO,
        mask_random=0.0,
        insert=0.0,
        rotate=0.0,
        permute_sentences=0.0,
        bpe="none",
        replace_length=1,
        mask_length="span-poisson",
        poisson_lambda=paper.SPAN_POISSON_LAMBDA,
    )
    return ours, stock


def run(quick: bool = True) -> dict:
    steps = 6 if quick else 30
    with tempfile.TemporaryDirectory() as tmp:
        data = toy_shard(Path(tmp))
        task, ours = trainer(data, *COMMON, "--arch", "bart_12e12d")
        _, stock = trainer(data, *COMMON, "--arch", "bart_large", *STOCK)
        n_ours = sum(p.numel() for p in ours.model.parameters())
        n_stock = sum(p.numel() for p in stock.model.parameters())
        same_init = all(
            torch.equal(a, b)
            for a, b in zip(
                ours.model.state_dict().values(), stock.model.state_dict().values()
            )
        )
        noisers = dict(zip(("plugin", "stock"), _noisers(task, data)))
        trainers = {"plugin": ours, "stock": stock}
        n_blocks = len(noisers["plugin"])
        times = {"plugin": [], "stock": []}
        for step in range(steps + 1):
            first = step * BATCH
            indices = [(first + i) % n_blocks for i in range(BATCH)]
            for name in ("plugin", "stock"):
                noiser = noisers[name]
                start = time.perf_counter()
                noiser.set_epoch(step + 1)
                batch = noiser.collater([noiser[i] for i in indices])
                trainers[name].train_step([batch])
                if step > 0:  # the first step warms up
                    times[name].append(time.perf_counter() - start)
    pair_ratios = [p / s for p, s in zip(times["plugin"], times["stock"])]
    return {
        "params_plugin": n_ours,
        "params_stock": n_stock,
        "same_initial_weights": same_init,
        "steps": steps,
        "step_s_plugin": statistics.median(times["plugin"]),
        "step_s_stock": statistics.median(times["stock"]),
        "overhead_ratio_median": statistics.median(pair_ratios),
        "overhead_ratio_sum": sum(times["plugin"]) / sum(times["stock"]),
    }


if __name__ == "__main__":
    cli(run, __doc__)
