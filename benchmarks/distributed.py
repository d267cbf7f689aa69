"""Data parallelism on this machine: 2 CPU ranks against 1 for the same global batch, and
the optimizer state each rank holds with and without ZeRO stage 1.

* throughput: ``train_scripts/roberta-12e.sh`` on the embedded toy corpus, once on one
  process accumulating two batches per update (``--update-freq 2``) and once on 2 ranks
  (torchrun, gloo) of one batch each: the same tokens per update. Tokens per second of
  the training steps (``tools/probes``: each rank's step times; the first steps warm
  up and are left out), and their ratio, 2 ranks over 1;
* optimizer-state memory per rank: Adam's moment tensors each rank holds after training,
  plain data parallelism against ``ZERO=1`` (fairseq's ``--zero-sharding os``, fairscale).
  Stage 1 shards exactly these; the weights and gradients stay replicated.

Every run is a thread per process (``OMP_NUM_THREADS=1``): the 2-rank run uses 2 cores,
the 1-rank run 1. On this project's 2-core machines the ratio is also the scaling of the
engine itself (communication and the extra process included).

    python benchmarks/distributed.py [--quick]
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script too
from benchmarks.figures import cli  # noqa: E402

SCRIPT = ROOT / "train_scripts" / "roberta-12e.sh"
PROBE = ROOT / "tools" / "probes"
WARMUP_STEPS = 2


def _corpus(workdir: Path) -> Path:
    """The embedded toy corpus, preprocessed (recipes-preprocess output)."""
    text, data = workdir / "text", workdir / "data-bin"
    py = [sys.executable, "-m"]
    subprocess.run(
        [
            *py,
            "fairseq_recipes.toy.corpus",
            "--output",
            str(text),
            "--docs-per-lang",
            "60",
            "--langs",
            "en,de",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *py,
            "fairseq_recipes.preprocessing.binarize",
            "--input",
            str(text),
            "--output",
            str(data),
            "--vocab-size",
            "1000",
            "--num-shards",
            "1",
            "--valid-docs",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    return data


def _train(
    data: Path, workdir: Path, name: str, ranks: int, updates: int, width: dict, **env
) -> dict:
    """One run of the script; {rank: the probe's record}."""
    probe = workdir / f"{name}.probe"
    probe.mkdir()
    full_env = {
        **os.environ,
        "SMOKE": "1",
        "DATA": str(data),
        "SAVE_DIR": str(workdir / name),
        "PYTHON": sys.executable,
        "CPU_RANKS": str(ranks),
        "UPDATES": str(updates),
        "MAX_TOKENS": "2048",
        "TOKENS_PER_UPDATE": "4096",
        "SAVE_INTERVAL": "100000",
        "OMP_NUM_THREADS": "1",
        "RECIPES_RANK_PROBE": str(probe),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROBE), os.environ.get("PYTHONPATH")])
        ),
        **{k: str(v) for k, v in width.items()},
        **{k: str(v) for k, v in env.items()},
    }
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--no-save", "--disable-validation"],
        env=full_env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{name}: exit {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return {int(p.stem[4:]): json.loads(p.read_text()) for p in probe.glob("rank*.json")}


def _tokens_per_second(records: dict) -> float:
    """Global tokens per second: each update's tokens over its slowest rank's step."""
    per_rank = [r["updates"][WARMUP_STEPS:] for r in records.values()]
    tokens = sum(sum(u["ntokens"] for u in updates) for updates in per_rank)
    seconds = sum(
        max(steps) for steps in zip(*[[u["seconds"] for u in r] for r in per_rank])
    )
    return tokens / seconds


def run(quick: bool = True) -> dict:
    updates = 8 if quick else 30
    width = (
        {"EMBED_DIM": 64, "FFN_DIM": 128, "HEADS": 4}
        if quick
        else {"EMBED_DIM": 256, "FFN_DIM": 1024, "HEADS": 4}
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data = _corpus(workdir)
        one = _train(data, workdir, "one", 1, updates, width)
        two = _train(data, workdir, "two", 2, updates, width)
        try:
            import fairscale  # noqa: F401

            zero = _train(data, workdir, "zero", 2, updates, width, ZERO=1)
        except ImportError:
            zero = None
    step_s = {
        k: statistics.median(u["seconds"] for u in r[0]["updates"][WARMUP_STEPS:])
        for k, r in (("one", one), ("two", two))
    }
    out = {
        "width": width["EMBED_DIM"],
        "updates": updates,
        "tokens_per_update": sum(u["ntokens"] for u in one[0]["updates"]) // updates,
        "step_s_1_rank": step_s["one"],
        "step_s_2_ranks": step_s["two"],
        "tokens_per_s_1_rank": _tokens_per_second(one),
        "tokens_per_s_2_ranks": _tokens_per_second(two),
    }
    out["throughput_ratio_2_over_1"] = (
        out["tokens_per_s_2_ranks"] / out["tokens_per_s_1_rank"]
    )
    out["median_step_ratio_1_over_2"] = step_s["one"] / step_s["two"]
    plain = [two[r]["optimizer_state_bytes"] for r in sorted(two)]
    out["optimizer_state_mb_per_rank"] = max(plain) / 2**20
    if zero is not None:
        shards = [zero[r]["optimizer_state_bytes"] for r in sorted(zero)]
        out["optimizer_state_mb_per_rank_zero"] = max(shards) / 2**20
        out["zero_state_fraction_per_rank"] = max(shards) / max(plain)
    return out


if __name__ == "__main__":
    cli(run, __doc__)
