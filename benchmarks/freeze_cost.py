"""What freezing the encoder and attention fusion cost, on a ``bart_12e12d`` shape scaled
down in width (recipe 2's model, ``two_stage_bart_12e12d``).

* step time with the encoder frozen over step time unfrozen, beside the ratio of training
  FLOPs for the same shape, vocabulary and padded batch (``fairseq_recipes.cost.flops``;
  about 2/3 when the output projection is small, where the paper assumed 3/4);
  goal: the measured ratio within 5% of the FLOP ratio;
* activation memory frozen against unfrozen: the bytes autograd saves for the backward
  pass during one training forward (exact and device-independent; on a GPU also the
  allocator's peak);
* step time with attention fusion over standard cross-attention, both frozen as in
  ``2stage-bart-12e12d-attn-f``; goal: at most 1.05.

The three models train side by side through fairseq's Trainer on the same batches, in
turn, and each ratio is the median of the per-round ratios.

    python benchmarks/freeze_cost.py [--quick]
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from fairseq_recipes.cost.flops import forward_flops
from fairseq_recipes.cost.model_shape import ModelShape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
from benchmarks.figures import cli  # noqa: E402
from benchmarks.toy_training import fixed_batches, toy_shard, trainer  # noqa: E402

WIDTH = [
    "--encoder-embed-dim",
    "512",
    "--encoder-ffn-embed-dim",
    "2048",
    "--encoder-attention-heads",
    "8",
    "--decoder-embed-dim",
    "512",
    "--decoder-ffn-embed-dim",
    "2048",
    "--decoder-attention-heads",
    "8",
]
BLOCK = 128
BATCH = 16
COMMON = [
    "--task",
    "recipes_span_denoising",
    "--arch",
    "two_stage_bart_12e12d",
    "--criterion",
    "cross_entropy",
    "--optimizer",
    "adam",
    "--lr",
    "1e-4",
    "--weight-decay",
    "0.01",
    "--tokens-per-sample",
    str(BLOCK),
    "--max-tokens",
    "8192",
    *WIDTH,
]
VARIANTS = {
    "unfrozen": ["--freeze-encoder-updates", "0"],
    "frozen": ["--freeze-encoder-updates", "-1"],
    "frozen_fusion": ["--freeze-encoder-updates", "-1", "--cross-attention", "fusion"],
}


def _saved_bytes(trainer, batch) -> int:
    """Bytes autograd keeps for the backward pass during one training forward: distinct
    storages, parameters excluded (they are memory whether or not anything trains)."""
    params = {p.untyped_storage().data_ptr() for p in trainer.model.parameters()}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    model, criterion = trainer.model, trainer.criterion
    model.train()
    model.set_num_updates(trainer.get_num_updates())
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, _, _ = criterion(model, batch)
    del loss
    return sum(storages.values())


def _train_flops(model, batch, encoder_frozen) -> int:
    src = batch["net_input"]["src_tokens"].shape  # padded: what the model computes on
    tgt = batch["net_input"]["prev_output_tokens"].shape
    flops = forward_flops(ModelShape.of_model(model), src[1], tgt[1])
    return src[0] * flops.train(encoder_frozen=encoder_frozen)


def run(quick: bool = True) -> dict:
    rounds = 4 if quick else 12
    with tempfile.TemporaryDirectory() as tmp:
        data = toy_shard(Path(tmp))
        trainers = {}
        for name, extra in VARIANTS.items():
            task, trainers[name] = trainer(data, *COMMON, *extra)
        batches = fixed_batches(task, data, rounds + 1, BATCH)
        times = {name: [] for name in VARIANTS}
        for step, batch in enumerate(batches):
            for name, side in trainers.items():
                start = time.perf_counter()
                side.train_step([batch])
                if step > 0:  # the first step warms up
                    times[name].append(time.perf_counter() - start)
        saved = {
            name: _saved_bytes(trainers[name], batches[0])
            for name in ("frozen", "unfrozen")
        }
        flops = {
            name: sum(_train_flops(trainers[name].model, b, frozen) for b in batches[1:])
            for name, frozen in [
                ("unfrozen", False),
                ("frozen", True),
                ("frozen_fusion", True),
            ]
        }
    flop_ratio = flops["frozen"] / flops["unfrozen"]
    frozen_ratio = statistics.median(
        f / u for f, u in zip(times["frozen"], times["unfrozen"])
    )
    return {
        "rounds": rounds,
        "step_s_unfrozen": statistics.median(times["unfrozen"]),
        "step_s_frozen": statistics.median(times["frozen"]),
        "step_s_frozen_fusion": statistics.median(times["frozen_fusion"]),
        "frozen_over_unfrozen_time": frozen_ratio,
        "frozen_over_unfrozen_flops": flop_ratio,
        "time_vs_flops_deviation": frozen_ratio / flop_ratio - 1.0,
        "paper_estimate": 0.75,
        "activation_mb_unfrozen": saved["unfrozen"] / 2**20,
        "activation_mb_frozen": saved["frozen"] / 2**20,
        "activation_frozen_over_unfrozen": saved["frozen"] / saved["unfrozen"],
        "fusion_over_standard_time": statistics.median(
            f / s for f, s in zip(times["frozen_fusion"], times["frozen"])
        ),
        "fusion_over_standard_flops": flops["frozen_fusion"] / flops["frozen"],
    }


if __name__ == "__main__":
    cli(run, __doc__)
