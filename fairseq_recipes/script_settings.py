"""The train scripts' settings: each environment variable, its default, what values it
takes, what it means, declared once.

``recipes.py shell`` emits the defaults as the shell function ``script_defaults``
(``shell_defaults``), which ``train_scripts/lib/common.sh`` calls; this module says which
values are valid for both places that must know:

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
    #: the scripts' default, a shell word evaluated in SETTINGS' order once the
    #: environment is checked: it may read the recipe's R_* variables and the settings
    #: above it. None: set elsewhere (PYTHON, by train_scripts/lib/preamble.sh)
    default: Optional[str] = ""
    #: smoke mode's default (SMOKE=1), a shell word; None: the same as ``default``
    smoke: Optional[str] = None
    low: Optional[float] = None  # smallest valid value (numbers)
    low_open: bool = False  # the value must be strictly greater than ``low``
    high: Optional[float] = None  # largest valid value, excluded (numbers)
    choices: Tuple[str, ...] = ()


def _int(name, meaning, default="", low=None, high=None, smoke=None):
    return Setting(name, "int", meaning, default, smoke, low=low, high=high)


def _float(name, meaning, default="", low=None, low_open=False, high=None, smoke=None):
    return Setting(
        name, "float", meaning, default, smoke, low=low, low_open=low_open, high=high
    )


def _scaled(count: str) -> str:
    """An update count of the recipe divided by UPDATE_DIVISOR, rounded up."""
    return f"$(( ({count} + UPDATE_DIVISOR - 1) / UPDATE_DIVISOR ))"


#: every setting, in the order the scripts assign their defaults. The paper's values are
#: the recipe's R_* variables (recipes.py); the other defaults are ours and say why.
SETTINGS = (
    Setting("SMOKE", "flag", "1: same script, tiny width, few updates, on CPU", "0"),
    Setting(
        "DRY_RUN",
        "flag",
        "1: print the command (launcher included) instead of running it",
        "0",
    ),
    Setting(
        "DATA", "text", "recipes-preprocess output: manifest.json + shard*/", "data-bin"
    ),
    Setting(
        "SAVE_DIR",
        "text",
        "checkpoints and train.log; a rerun resumes from checkpoint_last.pt",
        "checkpoints/$RECIPE",
    ),
    Setting(
        "INIT",
        "text",
        "final checkpoint of the stage this recipe starts from (recipes 1 and 2)",
        '$(dirname "$SAVE_DIR")/${R_INIT_FROM:-none}/checkpoint_last.pt',
    ),
    Setting("PYTHON", "text", "python with fairseq and this package", None),
    # smoke mode divides by 20,000: a few updates, multi-phase proportions kept
    _int(
        "UPDATE_DIVISOR",
        "divides every update count of the stage (1: the paper's)",
        "1",
        low=1,
        smoke="$R_SMOKE_UPDATE_DIVISOR",
    ),
    _int("UPDATES", "optimizer updates of this stage", _scaled("R_UPDATES"), low=1),
    _int(
        "WARMUP",
        "linear warmup from 0, in updates",
        _scaled("R_WARMUP_UPDATES"),
        low=0,
        smoke="$R_SMOKE_WARMUP_UPDATES",
    ),
    _int(
        "FREEZE_ENCODER_UPDATES",
        "recipe 2: encoder frozen for the first N updates, -1 throughout",
        "$(( R_FREEZE_ENCODER_UPDATES > 0 ? "
        "(R_FREEZE_ENCODER_UPDATES + UPDATE_DIVISOR - 1) / UPDATE_DIVISOR "
        ": R_FREEZE_ENCODER_UPDATES ))",
        low=-1,
    ),
    # also the resume granularity; smoke mode saves halfway, so a rerun resumes
    _int(
        "SAVE_INTERVAL",
        "updates between checkpoints",
        "5000",
        low=1,
        smoke="$(( UPDATES / 2 > 0 ? UPDATES / 2 : 1 ))",
    ),
    _int(
        "GPUS_PER_NODE",
        "GPUs per machine; 0 trains on CPU",
        "$(detect_gpus)",
        low=0,
        smoke="0",
    ),
    _int("NODES", "machines", "${SLURM_NNODES:-1}", low=1),
    _int(
        "CPU_RANKS", "without GPUs: training processes on this machine (gloo)", "1", low=1
    ),
    # empty: slurm under srun, else torchrun for several processes on CPU or several
    # nodes, else fairseq (which spawns one process per GPU)
    Setting(
        "LAUNCHER",
        "choice",
        "how processes start: fairseq | torchrun | slurm; empty: chosen",
        choices=("fairseq", "torchrun", "slurm"),
    ),
    _int(
        "NODE_RANK",
        "torchrun on several nodes: this machine's index (0 .. NODES-1)",
        "0",
        low=0,
    ),
    Setting(
        "MASTER_ADDR", "text", "torchrun on several nodes: node 0's address", "127.0.0.1"
    ),
    _int(
        "MASTER_PORT",
        "torchrun on several nodes, Slurm: rendezvous port on node 0",
        "29500",
        low=1,
        high=65536,
    ),
    # legacy_ddp: no overlap of communication with backward
    Setting(
        "DDP_BACKEND",
        "choice",
        "PyTorch DDP (c10d) or fairseq's legacy_ddp",
        "c10d",
        choices=("c10d", "pytorch_ddp", "legacy_ddp", "no_c10d"),
    ),
    # empty: bf16 where the GPU has it (A100, H100), else fp16; CPU runs are fp32
    Setting(
        "PRECISION",
        "choice",
        "GPU numeric precision; empty: bf16 where the GPU has it, else fp16 (CPU: "
        "fp32)",
        choices=(
            "bf16",
            "fp16",
            "memory-efficient-bf16",
            "memory-efficient-fp16",
            "fp32",
        ),
    ),
    # the paper's DeepSpeed setting, as fairseq's --zero-sharding os (needs fairscale)
    Setting(
        "ZERO",
        "flag",
        "1: ZeRO stage 1, optimizer state sharded across ranks (needs fairscale: "
        "pip install -e '.[zero]')",
        "0",
    ),
    # 16 blocks of 512: what one GPU of the paper's era holds for a 12e12d model
    _int(
        "MAX_TOKENS",
        "tokens per process per forward pass",
        "8192",
        low=1,
        smoke="$R_SMOKE_MAX_TOKENS",
    ),
    _int(
        "TOKENS_PER_UPDATE",
        "tokens per update = max_tokens x update_freq x world size (paper: 1M)",
        "$R_TOKENS_PER_UPDATE",
        low=1,
        smoke="$R_SMOKE_TOKENS_PER_UPDATE",
    ),
    _int(
        "TOKENS_PER_SAMPLE",
        "block length, bos/eos included",
        "$R_TOKENS_PER_SAMPLE",
        low=8,
        smoke="$R_SMOKE_TOKENS_PER_SAMPLE",
    ),
    _float(
        "DROPOUT",
        "dropout everywhere (attention: XLM-R's, from the arch)",
        "$R_DROPOUT",
        low=0,
        high=1,
    ),
    _float(
        "SAMPLING_ALPHA",
        "language sampling exponent, p_i ~ (n_i/N)^alpha",
        "$R_SAMPLING_ALPHA",
        low=0,
    ),
    # a tiny model takes a larger step than the paper's 1024-wide one
    _float(
        "PEAK_LR",
        "learning rate at the end of warmup",
        "$R_PEAK_LR",
        low=0,
        low_open=True,
        smoke='$(light -c "print($R_PEAK_LR * $R_SMOKE_PEAK_LR_SCALE)")',
    ),
    _float(
        "END_LR", "learning rate at the last update (linear decay)", "$R_END_LR", low=0
    ),
    Setting(
        "ADAM_BETAS",
        "betas",
        "Adam betas (XLM-R's; the paper says Adam only)",
        "$R_ADAM_BETAS",
    ),
    _float("ADAM_EPS", "Adam epsilon (XLM-R's)", "$R_ADAM_EPS", low=0, low_open=True),
    _float("WEIGHT_DECAY", "decoupled weight decay (XLM-R's)", "$R_WEIGHT_DECAY", low=0),
    _float("CLIP_NORM", "gradient clipping, 0 = off (XLM-R's)", "$R_CLIP_NORM", low=0),
    _int("SEED", "data order, noise and initialisation", "1", low=0),
    Setting(
        "OBJECTIVE_SCHEDULE",
        "choice",
        "recipe 3: alternate (one objective per update, MLM evenly spread) | sample "
        "(MLM drawn per update) | sum (both every update)",
        "$R_OBJECTIVE_SCHEDULE",
        choices=SCHEDULES,
    ),
    _float(
        "MLM_SHARE",
        "recipe 3: fraction of the updates that train MLM only (alternate, sample)",
        "$R_MLM_SHARE",
        low=0,
        high=1,
    ),
    _float(
        "MLM_WEIGHT",
        "recipe 3: weight of the MLM loss (its mean over the masked positions)",
        "$R_MLM_WEIGHT",
        low=0,
    ),
    _float(
        "DENOISING_WEIGHT",
        "recipe 3: weight of the span-denoising loss (its mean per target token)",
        "$R_DENOISING_WEIGHT",
        low=0,
    ),
    _int("LOG_INTERVAL", "updates between log lines", "100", low=1, smoke="5"),
    # fairseq's default 1. On CPU at the real shapes use 0: a worker is forked from the
    # trainer and keeps the pages the trainer then rewrites (its weights, and on resume
    # Adam's state: +3.5 to +10 GB for a 12e12d model)
    _int(
        "NUM_WORKERS",
        "data-loading processes per rank (0: in the training process)",
        "1",
        low=0,
    ),
    _int(
        "EMBED_DIM",
        "model width (empty: the architecture's, 1024)",
        low=1,
        smoke="$R_SMOKE_EMBED_DIM",
    ),
    _int(
        "FFN_DIM",
        "feed-forward width (empty: the architecture's, 4096)",
        low=1,
        smoke="$R_SMOKE_FFN_DIM",
    ),
    _int(
        "HEADS",
        "attention heads (empty: the architecture's, 16)",
        low=1,
        smoke="$R_SMOKE_HEADS",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


def shell_defaults() -> str:
    """``script_defaults``: a shell function that gives every setting the environment
    left empty its default, in SETTINGS' order, smoke mode's where SMOKE=1
    (``recipes.py shell`` emits it; ``train_scripts/lib/common.sh`` calls it)."""
    lines = ["script_defaults() {"]
    for setting in SETTINGS:
        if setting.default is None:
            continue
        name = setting.name
        if setting.smoke is not None:
            lines.append(
                f'  if [[ "$SMOKE" == 1 ]]; then {name}="${{{name}:-{setting.smoke}}}"; fi'
            )
        lines.append(f'  {name}="${{{name}:-{setting.default}}}" # {setting.meaning}')
    return "\n".join(lines + ["}"])


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
