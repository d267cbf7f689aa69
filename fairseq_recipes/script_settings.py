"""The train scripts' settings: each environment variable, what values it takes, what it means.

``train_scripts/lib/common.sh`` gives every setting its default (from ``recipes.py``);
this module says which values are valid, once, for both places that must know:

* the scripts, which check the environment before any arithmetic, and the values they
  derived from it (smoke mode's width) before fairseq-train runs::

      python -m fairseq_recipes.script_settings check [NAME=VALUE ...]  # exit 2 if bad

* the main job's configuration (``[pretrain]`` tables), checked when it is read.

An empty variable means "the default" in the scripts (``${NAME:-default}``), so it is valid.
"""

import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Optional, Tuple

from .cli import command
from .data.objective_schedule import SCHEDULES
from .errors import RecipesError


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # "int", "float", "flag" (0/1), "choice", "text", "betas"
    meaning: str
    low: Optional[float] = None  # smallest valid value (numbers)
    low_open: bool = False  # the value must be strictly greater than ``low``
    high: Optional[float] = None  # largest valid value, excluded (numbers)
    choices: Tuple[str, ...] = ()


def _int(name, meaning, low=None, high=None):
    return Setting(name, "int", meaning, low=low, high=high)


def _float(name, meaning, low=None, low_open=False, high=None):
    return Setting(name, "float", meaning, low=low, low_open=low_open, high=high)


SETTINGS = (
    Setting("SMOKE", "flag", "1: tiny width, few updates, on CPU"),
    Setting("DRY_RUN", "flag", "1: print the command instead of running it"),
    Setting("DATA", "text", "recipes-preprocess output: manifest.json + shard*/"),
    Setting("SAVE_DIR", "text", "checkpoints and train.log; a rerun resumes"),
    Setting("INIT", "text", "final checkpoint of the stage this recipe starts from"),
    Setting("PYTHON", "text", "python with fairseq and this package"),
    _int("UPDATE_DIVISOR", "divides every update count of the stage", low=1),
    _int("UPDATES", "optimizer updates of this stage", low=1),
    _int("WARMUP", "linear warmup from 0, in updates", low=0),
    _int(
        "FREEZE_ENCODER_UPDATES",
        "recipe 2: encoder frozen for N updates, -1 throughout",
        low=-1,
    ),
    _int("SAVE_INTERVAL", "updates between checkpoints", low=1),
    _int("GPUS_PER_NODE", "GPUs per machine; 0 trains on CPU", low=0),
    _int("NODES", "machines", low=1),
    _int("CPU_RANKS", "without GPUs: training processes on this machine", low=1),
    Setting(
        "LAUNCHER",
        "choice",
        "how processes start",
        choices=("fairseq", "torchrun", "slurm"),
    ),
    _int("NODE_RANK", "torchrun on several nodes: this machine's index", low=0),
    Setting("MASTER_ADDR", "text", "torchrun on several nodes: node 0's address"),
    _int("MASTER_PORT", "rendezvous port on node 0", low=1, high=65536),
    Setting(
        "DDP_BACKEND",
        "choice",
        "PyTorch DDP or fairseq's legacy DDP",
        choices=("c10d", "pytorch_ddp", "legacy_ddp", "no_c10d"),
    ),
    Setting(
        "PRECISION",
        "choice",
        "GPU numeric precision",
        choices=(
            "bf16",
            "fp16",
            "memory-efficient-bf16",
            "memory-efficient-fp16",
            "fp32",
        ),
    ),
    Setting("ZERO", "flag", "1: ZeRO stage 1 (optimizer state sharded across ranks)"),
    _int("MAX_TOKENS", "tokens per process per forward pass", low=1),
    _int("TOKENS_PER_UPDATE", "tokens per optimizer update, all processes", low=1),
    _int("TOKENS_PER_SAMPLE", "block length, bos/eos included", low=8),
    _float("DROPOUT", "dropout everywhere", low=0, high=1),
    _float("SAMPLING_ALPHA", "language sampling exponent", low=0),
    _float("PEAK_LR", "learning rate at the end of warmup", low=0, low_open=True),
    _float("END_LR", "learning rate at the last update", low=0),
    Setting("ADAM_BETAS", "betas", "Adam betas, e.g. (0.9, 0.98)"),
    _float("ADAM_EPS", "Adam epsilon", low=0, low_open=True),
    _float("WEIGHT_DECAY", "decoupled weight decay", low=0),
    _float("CLIP_NORM", "gradient clipping, 0 = off", low=0),
    _int("SEED", "data order, noise and initialisation", low=0),
    Setting(
        "OBJECTIVE_SCHEDULE",
        "choice",
        "recipe 3: how MLM and span denoising share " "updates",
        choices=SCHEDULES,
    ),
    _float(
        "MLM_SHARE",
        "recipe 3: fraction of the updates that train MLM only",
        low=0,
        high=1,
    ),
    _float("MLM_WEIGHT", "recipe 3: weight of the MLM loss", low=0),
    _float("DENOISING_WEIGHT", "recipe 3: weight of the span-denoising loss", low=0),
    _int("LOG_INTERVAL", "updates between log lines", low=1),
    _int("NUM_WORKERS", "data-loading processes per rank (0: in the trainer)", low=0),
    _int("EMBED_DIM", "model width", low=1),
    _int("FFN_DIM", "feed-forward width", low=1),
    _int("HEADS", "attention heads", low=1),
)
BY_NAME = {s.name: s for s in SETTINGS}
_NUMBER = {"int": int, "float": float}
_BETAS = re.compile(r"^\(\s*([0-9.eE+-]+)\s*,\s*([0-9.eE+-]+)\s*\)$")


def _range_text(setting: Setting) -> str:
    parts = []
    if setting.low is not None:
        parts.append(f"{'>' if setting.low_open else '>='} {setting.low:g}")
    if setting.high is not None:
        parts.append(f"< {setting.high:g}")
    return " and ".join(parts)


def problem(name: str, value: str) -> Optional[str]:
    """Why ``value`` is not valid for the setting ``name`` (None: it is)."""
    setting = BY_NAME[name]
    value = str(value).strip()
    if value == "":
        return None  # the default
    if setting.kind == "flag":
        return None if value in ("0", "1") else "expected 0 or 1"
    if setting.kind == "choice":
        if value in setting.choices:
            return None
        *first, last = setting.choices
        return f"expected {', '.join(first)} or {last}"
    if setting.kind == "betas":
        found = _BETAS.match(value)
        if found and all(0 <= float(b) < 1 for b in found.groups()):
            return None
        return "expected two numbers in [0, 1) as (beta1, beta2)"
    if setting.kind in _NUMBER:
        kind = _NUMBER[setting.kind]
        try:
            number = kind(value)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            return f"expected {what}" + (
                f" {_range_text(setting)}" if _range_text(setting) else ""
            )
        if not math.isfinite(number):
            return "expected a finite number"
        low, high = setting.low, setting.high
        if (
            low is not None and (number < low or (setting.low_open and number == low))
        ) or (high is not None and number >= high):
            return f"must be {_range_text(setting)}"
    return None


def check(values: dict, where: str = "") -> None:
    """Every known setting in ``values`` is valid, and the ones that must agree do;
    raises one-line :class:`RecipesError` naming ``{where}NAME=value``."""
    for name, value in values.items():
        if name in BY_NAME:
            why = problem(name, value)
            if why:
                raise RecipesError(f"{where}{name}={value}: {why}")
    dim, heads = str(values.get("EMBED_DIM", "")), str(values.get("HEADS", ""))
    if dim.strip() and heads.strip() and int(dim) % int(heads):
        raise RecipesError(
            f"{where}EMBED_DIM={dim}: must be a multiple of HEADS={heads} (each head gets "
            "an equal share of the width)"
        )
    rank, nodes = str(values.get("NODE_RANK", "")), str(values.get("NODES", ""))
    if rank.strip() and nodes.strip() and int(rank) >= int(nodes):
        raise RecipesError(f"{where}NODE_RANK={rank}: must be below NODES={nodes}")


@command
def cli_main(argv=None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "check" or not all("=" in a for a in args[1:]):
        print(
            "usage: python -m fairseq_recipes.script_settings check [NAME=VALUE ...]",
            file=sys.stderr,
        )
        sys.exit(2)
    values = {name: os.environ[name] for name in BY_NAME if name in os.environ}
    values.update(a.split("=", 1) for a in args[1:])  # the scripts' computed values
    check(values)


if __name__ == "__main__":
    cli_main()
