"""Attention on torch's fused kernel (``compat/fused_attention.py``): the plugin against
transformers at the same shape, before and after ("stock": fairseq's own attention,
``FAIRSEQ_RECIPES_ATTENTION=stock``; "fused": the plugin's default).

* ``train``: one training step, the plugin's over transformers', for ``roberta_12e``
  (against ``RobertaPreLayerNormForMaskedLM``), ``bart_12e12d`` and ``bart_12e2d``
  (against ``MBartForConditionalGeneration``): width 256, FFN 1024, 4 heads, 12 encoder
  layers, batches of 8 blocks of 128 tokens, the paper's dropout, Adam. The plugin steps
  through fairseq's Trainer and the project's task and criterion; transformers' model has
  the same weights (the export's mapping, ``export/hf_models.py``), SDPA attention, and
  steps with ``torch.optim.Adam``. One thread; in each round the stock, fused and
  transformers steps run in turn on the same batch, and a ratio is the median of the
  per-round ratios. Goal: fused at most 0.95. Then one more step of each under torch's
  profiler splits its time into matrix products (``mm``, ``addmm``, ``bmm``), dropout's
  masks (``bernoulli_``) and the rest (each operator's own time; the profiler's
  per-operator cost falls in the rest, on both sides alike): where the two libraries run
  the same kernels, and how much of a step is left to differ.
* ``decode``: beam-3 decoding of 64 inputs (noised 128-token blocks, batches of 16) by a
  ``bart_12e12d`` of that shape: fairseq-generate's path (the checkpoint loaded by
  ``load_model_ensemble_and_task``, ``prepare_for_inference_``, the task's generator)
  against transformers' ``generate(num_beams=3)`` on the model ``recipes-export-hf``
  wrote (its fairseq-generate settings, ``--max-len-b`` 64 on both sides); tokens of the
  best hypotheses per second, batches interleaved. Goal: fused / transformers at least 1.
  The weights are drawn with unit gain (BART's initialization decodes every input to the
  same tokens), so the hypotheses depend on the inputs; how many best hypotheses agree
  between the sides is printed too.
* ``memory``: one training step of ``bart_12e12d`` (same width) on 8 blocks of 512
  tokens: the bytes autograd saves for the backward pass (exact, device-independent),
  and the growth of the process's peak resident memory over the step (a fresh process
  per variant), with the paper's attention dropout and without it.
* ``fusion_mixing``: attention fusion's mixture of the 12 encoder layers (a softmax over
  12 keys per token, ``models/attention_fusion.py``) by matrix products against
  ``scaled_dot_product_attention``: why it stays on matrix products.

No GPU was lent to this work: the figures are CPU figures, one thread.

    python benchmarks/attention_kernels.py [--quick] [--part train|decode|memory|fusion_mixing]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script too
from benchmarks.figures import shown  # noqa: E402
from benchmarks.toy_training import fixed_batches, toy_shard, trainer  # noqa: E402

ENCODER = [
    "--encoder-embed-dim",
    "256",
    "--encoder-ffn-embed-dim",
    "1024",
    "--encoder-attention-heads",
    "4",
]
DECODER = [
    "--decoder-embed-dim",
    "256",
    "--decoder-ffn-embed-dim",
    "1024",
    "--decoder-attention-heads",
    "4",
]
BLOCK, BATCH, LR = 128, 8, 1e-4
#: architecture -> (task, criterion, transformers class)
MODELS = {
    "roberta_12e": ("recipes_mlm", "masked_lm", "RobertaPreLayerNormForMaskedLM"),
    "bart_12e12d": (
        "recipes_span_denoising",
        "cross_entropy",
        "MBartForConditionalGeneration",
    ),
    "bart_12e2d": (
        "recipes_span_denoising",
        "cross_entropy",
        "MBartForConditionalGeneration",
    ),
}
DECODE_INPUTS, DECODE_BATCH, BEAM, MAX_LEN = 64, 16, 3, 64
MEMORY_BLOCK = 512
PARTS = ("train", "decode", "memory", "fusion_mixing")


def _options(arch, block=BLOCK, *extra):
    task, criterion, _ = MODELS[arch]
    width = ENCODER + (DECODER if arch.startswith("bart") else [])
    return [
        "--task",
        task,
        "--criterion",
        criterion,
        "--arch",
        arch,
        "--optimizer",
        "adam",
        "--lr",
        str(LR),
        "--tokens-per-sample",
        str(block),
        "--max-tokens",
        str(BATCH * block * 2),
        *width,
        *extra,
    ]


def _transformers_model(arch, fairseq_model, args, dictionary):
    """transformers' model of the same class, config and weights as the export's."""
    import transformers

    from fairseq_recipes.export import hf_models

    ids = dict(
        bos_token_id=dictionary.bos(),
        pad_token_id=dictionary.pad(),
        eos_token_id=dictionary.eos(),
    )
    state = fairseq_model.state_dict()
    if arch == "roberta_12e":
        kwargs, weights = hf_models.roberta("benchmark", state, args)
        config = transformers.RobertaPreLayerNormConfig(
            **kwargs, **ids, attn_implementation="sdpa"
        )
    else:
        kwargs, weights = hf_models.mbart("benchmark", state, args)
        config = transformers.MBartConfig(
            **kwargs,
            **ids,
            decoder_start_token_id=dictionary.eos(),
            attn_implementation="sdpa",
        )
    model = getattr(transformers, MODELS[arch][2])(config)
    model.load_state_dict(weights, strict=True)
    return model.train()


def _transformers_step(arch, model, optimizer, batch, pad):
    src = batch["net_input"]["src_tokens"]
    labels = batch["target"].masked_fill(batch["target"].eq(pad), -100)
    inputs = dict(input_ids=src, attention_mask=src.ne(pad), labels=labels)
    if arch != "roberta_12e":
        prev = batch["net_input"]["prev_output_tokens"]
        inputs.update(decoder_input_ids=prev, decoder_attention_mask=prev.ne(pad))
    model(**inputs).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


#: operators by kind, for the split of a step's time
MATRIX_PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm")
DROPOUT_MASKS = ("aten::bernoulli_",)


def _kernel_split(step) -> dict:
    """Seconds of one ``step()`` by kind of operator (the operators' own CPU time)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    own = {e.key: e.self_cpu_time_total / 1e6 for e in prof.key_averages()}
    total = sum(own.values())
    matrix = sum(own.get(name, 0.0) for name in MATRIX_PRODUCTS)
    masks = sum(own.get(name, 0.0) for name in DROPOUT_MASKS)
    return {
        "step_s": total,
        "matrix_products_s": matrix,
        "dropout_masks_s": masks,
        "rest_s": total - matrix - masks,
    }


def train(data: Path, rounds: int) -> dict:
    from fairseq_recipes.compat.fused_attention import stock_attention

    figures = {}
    for arch in MODELS:
        task, side = trainer(data, *_options(arch))
        hf = _transformers_model(arch, side.model, side.cfg.model, task.dictionary)
        optimizer = torch.optim.Adam(hf.parameters(), lr=LR)
        pad = task.dictionary.pad()
        times = {"stock": [], "fused": [], "transformers": []}

        def step(name, batch):
            if name == "transformers":
                _transformers_step(arch, hf, optimizer, batch, pad)
            else:
                with stock_attention(name == "stock"):
                    side.train_step([batch])

        batches = fixed_batches(task, data, rounds + 2, BATCH)
        for round_, batch in enumerate(batches[:-1]):
            for name in times:
                start = time.perf_counter()
                step(name, batch)
                if round_ > 0:  # the first round warms up
                    times[name].append(time.perf_counter() - start)
        hf_times = times["transformers"]
        figures[arch] = {
            "step_s": {name: statistics.median(t) for name, t in times.items()},
            "over_transformers_stock": statistics.median(
                s / h for s, h in zip(times["stock"], hf_times)
            ),
            "over_transformers_fused": statistics.median(
                f / h for f, h in zip(times["fused"], hf_times)
            ),
            "fused_over_stock": statistics.median(
                f / s for f, s in zip(times["fused"], times["stock"])
            ),
        }
        figures[arch]["goal_met"] = figures[arch]["over_transformers_fused"] <= 0.95
        figures[arch]["profiled_step"] = {
            name: _kernel_split(lambda: step(name, batches[-1])) for name in times
        }
    return figures


def _unit_gain(model) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, p.shape[1] ** -0.5)


def _exported_model(data: Path, workdir: Path):
    """(checkpoint, transformers model exported from it) of a unit-gain bart_12e12d."""
    import transformers

    from fairseq_recipes.export import hf_export

    task, side = trainer(data, *_options("bart_12e12d"))
    _unit_gain(side.model)
    checkpoint = workdir / "bart_12e12d.pt"
    side.consolidate_optimizer()  # what fairseq-train does before saving
    side.save_checkpoint(str(checkpoint), {})
    hf_export.export(checkpoint, workdir / "hf", data=data.parent)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(workdir / "hf")
    return checkpoint, model.eval()


def decode(data: Path, workdir: Path, quick: bool) -> dict:
    from fairseq import checkpoint_utils
    from fairseq.dataclass.configs import GenerationConfig

    from fairseq_recipes.compat.fused_attention import stock_attention

    checkpoint, hf = _exported_model(data, workdir)
    (model,), cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)])
    cfg.generation = GenerationConfig(beam=BEAM, max_len_b=MAX_LEN)
    model.prepare_for_inference_(cfg)
    model.eval()
    generator = task.build_generator([model], cfg.generation)
    inputs = DECODE_INPUTS // 4 if quick else DECODE_INPUTS
    batches = fixed_batches(task, data, inputs // DECODE_BATCH, DECODE_BATCH)
    pad = task.dictionary.pad()
    settings = dict(num_beams=BEAM, max_length=MAX_LEN + 2)  # start token, then </s>
    times = {"stock": 0.0, "fused": 0.0, "transformers": 0.0}
    tokens = dict.fromkeys(times, 0)
    best = {}
    for warm_up in (True, False):
        for batch in batches if not warm_up else batches[:1]:
            src = batch["net_input"]["src_tokens"]
            for name in times:
                start = time.perf_counter()
                with torch.no_grad():
                    if name == "transformers":
                        out = hf.generate(
                            input_ids=src, attention_mask=src.ne(pad), **settings
                        )
                        found = [[t for t in row[1:].tolist() if t != pad] for row in out]
                    else:
                        with stock_attention(name == "stock"):
                            hypos = task.inference_step(generator, [model], batch)
                        found = [nbest[0]["tokens"].tolist() for nbest in hypos]
                if not warm_up:
                    times[name] += time.perf_counter() - start
                    tokens[name] += sum(map(len, found))
                    best.setdefault(name, []).extend(found)
    per_s = {name: tokens[name] / times[name] for name in times}
    agree = lambda a, b: sum(x == y for x, y in zip(best[a], best[b]))  # noqa: E731
    return {
        "inputs": len(best["fused"]),
        "tokens": tokens,
        "tokens_per_s": per_s,
        "fused_over_transformers": per_s["fused"] / per_s["transformers"],
        "stock_over_transformers": per_s["stock"] / per_s["transformers"],
        "fused_over_stock": per_s["fused"] / per_s["stock"],
        "same_best_fused_stock": agree("fused", "stock"),
        "same_best_fused_transformers": agree("fused", "transformers"),
        "goal_met": per_s["fused"] / per_s["transformers"] >= 1.0,
    }


def _saved_bytes(model, criterion, batch) -> int:
    """Bytes autograd keeps for the backward pass during one training forward: distinct
    storages, parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, _, _ = criterion(model, batch)
    del loss
    return sum(storages.values())


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(data: str, attention_dropout: str) -> None:
    """One variant of ``memory``, in its own process (the attention path from
    FAIRSEQ_RECIPES_ATTENTION): prints its figures as JSON."""
    torch.set_num_threads(1)
    options = _options(
        "bart_12e12d", MEMORY_BLOCK, "--attention-dropout", attention_dropout
    )
    task, side = trainer(Path(data), *options)
    (batch,) = fixed_batches(task, Path(data), 1, BATCH)
    model, criterion = side.model.train(), side.criterion
    saved = _saved_bytes(model, criterion, batch)
    before = _rss_bytes()
    loss, _, _ = criterion(model, batch)
    loss.backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tokens = batch["net_input"]["src_tokens"].shape, batch["target"].shape
    print(
        json.dumps(
            {
                "saved": saved,
                "peak_growth": peak - before,
                "shapes": [list(s) for s in tokens],
            }
        )
    )


def memory(data: Path) -> dict:
    from fairseq_recipes.compat.fused_attention import ENV

    figures = {}
    for dropout in ("0.1", "0"):
        found = {}
        for mode in ("stock", "fused"):
            code = (
                "import sys; from benchmarks.attention_kernels import memory_child; "
                "memory_child(*sys.argv[1:])"
            )
            proc = subprocess.run(
                [sys.executable, "-c", code, str(data), dropout],
                env={**os.environ, ENV: mode, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                check=True,
            )
            found[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        mb = 2**20
        figures[f"attention_dropout_{dropout}"] = {
            "batch_src_tgt": found["fused"]["shapes"],
            "saved_mb_stock": found["stock"]["saved"] / mb,
            "saved_mb_fused": found["fused"]["saved"] / mb,
            "saved_fused_over_stock": found["fused"]["saved"] / found["stock"]["saved"],
            "peak_rss_growth_mb_stock": found["stock"]["peak_growth"] / mb,
            "peak_rss_growth_mb_fused": found["fused"]["peak_growth"] / mb,
        }
    return figures


def fusion_mixing(rounds: int) -> dict:
    """Forward and backward of the layer mixture at the training shape, per call."""
    import torch.nn.functional as F

    from fairseq_recipes.models.attention_fusion import LayerFusion

    layers, dim = 12, 256
    fusion = LayerFusion(layers, dim)
    with torch.no_grad():
        fusion.queries.normal_()
    states = torch.randn(BLOCK, BATCH, layers, dim, requires_grad=True)

    def by_sdpa():
        flat = states.view(-1, 1, layers, dim)  # (tokens, 1 head, K encoder layers, C)
        queries = fusion.queries.expand(flat.size(0), 1, layers, dim)
        mixed = F.scaled_dot_product_attention(queries, flat, flat, scale=fusion.scale)
        return mixed.view(BLOCK, BATCH, layers, dim).unbind(2)

    times = {"matmul": [], "sdpa": []}
    for step in range(rounds + 1):
        for name, fn in (("matmul", lambda: fusion(states)), ("sdpa", by_sdpa)):
            start = time.perf_counter()
            torch.stack(fn(), 2).sum().backward()
            if step:
                times[name].append(time.perf_counter() - start)
    return {
        "ms_matmul": 1e3 * statistics.median(times["matmul"]),
        "ms_sdpa": 1e3 * statistics.median(times["sdpa"]),
        "sdpa_over_matmul": statistics.median(
            s / m for s, m in zip(times["sdpa"], times["matmul"])
        ),
    }


def run(quick: bool = True, parts=PARTS) -> dict:
    torch.set_num_threads(1)
    figures = {
        "threads": 1,
        "gpu": "none lent to this work",
        "load_1min_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        data = toy_shard(Path(tmp))
        if "train" in parts:
            figures["train"] = train(data, 4 if quick else 12)
        if "decode" in parts:
            figures["decode"] = decode(data, Path(tmp), quick)
        if "memory" in parts:
            figures["memory"] = memory(data)
        if "fusion_mixing" in parts:
            figures["fusion_mixing"] = fusion_mixing(5 if quick else 20)
    figures["load_1min_end"] = os.getloadavg()[0]
    return figures


def _flat(prefix, value):
    if isinstance(value, dict) and not all(
        isinstance(v, (int, float)) for v in value.values()
    ):
        for key, sub in value.items():
            yield from _flat(f"{prefix}.{key}" if prefix else str(key), sub)
    else:
        yield prefix, value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and inputs")
    parser.add_argument(
        "--part", action="append", choices=PARTS, help="run this part only (repeatable)"
    )
    args = parser.parse_args()
    rows = list(_flat("", run(args.quick, args.part or PARTS)))
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        print(f"{key:<{width}} {shown(value)}")
