"""The rows of the paper's Table 1 as training stages: the one source of truth for scripts.

Each ``train_scripts/<name>.sh`` reads its settings with
``python -m fairseq_recipes.recipes shell <name>`` (shell assignments), and the compute
ledger reads the same definitions, so no number is typed twice. Paper numbers come from
``fairseq_recipes.paper``; recipe 3 (``bart-12e12d-joint``, MLM and span denoising trained
jointly), which the paper names as future work but does not train, is an eleventh row
whose settings are ours (``fairseq_recipes.recipe3``) and which is marked ``in_paper=False``.
"""

import argparse
import shlex
from dataclasses import asdict, dataclass
from typing import Optional

from . import paper, recipe3


@dataclass(frozen=True)
class Stage:
    """One pre-training run: a row of Table 1 (or one stage of a row)."""

    name: str  # the row's name in Table 1 and of its train script
    arch: str  # fairseq architecture
    task: str  # fairseq task
    criterion: str
    encoder_layers: int
    decoder_layers: int  # 0 for an encoder-only model
    updates: int
    peak_lr: float
    warmup_updates: int
    end_lr: float = paper.PRETRAIN_END_LR
    noise_mode: str = ""  # span denoising: drop or mask
    init_from: Optional[str] = None  # the stage whose checkpoint initializes this one
    freeze_encoder_updates: int = 0  # recipe 2: -1 frozen throughout, N first N updates
    cross_attention: str = "standard"  # recipe 2: standard or fusion
    untie_output: bool = False  # recipe 1: the MLM head's projection is its own parameter
    #: recipe 3: how MLM and span denoising share the updates (alternate, sample, sum;
    #: empty: the stage trains one objective), the share of MLM-only updates and the
    #: loss weights
    objective_schedule: str = ""
    mlm_share: float = 0.0
    mlm_weight: Optional[float] = None
    denoising_weight: Optional[float] = None
    in_paper: bool = True  # a row of the paper's Table 1 (recipe 3's is ours)


def _mlm(name, **kw):
    defaults = dict(
        arch="roberta_12e",
        task="recipes_mlm",
        criterion="masked_lm",
        encoder_layers=paper.ENCODER_LAYERS,
        decoder_layers=0,
        updates=paper.PRETRAIN_UPDATES,
        peak_lr=paper.PRETRAIN_PEAK_LR,
        warmup_updates=paper.PRETRAIN_WARMUP_UPDATES,
    )
    return Stage(name=name, **{**defaults, **kw})


def _seq2seq(name, shape, noise_mode, arch=None, **kw):
    """A span-denoising stage of ``shape`` (a Table 1 architecture), built as ``arch``."""
    defaults = dict(
        task="recipes_span_denoising",
        criterion="cross_entropy",
        encoder_layers=paper.ENCODER_LAYERS,
        decoder_layers=paper.DECODER_LAYERS[shape],
        updates=paper.PRETRAIN_UPDATES,
        peak_lr=paper.PRETRAIN_PEAK_LR,
        warmup_updates=paper.PRETRAIN_WARMUP_UPDATES,
    )
    return Stage(
        name=name, arch=arch or shape, noise_mode=noise_mode, **{**defaults, **kw}
    )


def _two_stage(name, freeze_encoder_updates, **kw):
    """Recipe 2: bart_12e12d warm-started from roberta-12e, its encoder frozen for
    ``freeze_encoder_updates`` (-1: throughout)."""
    defaults = dict(
        arch="two_stage_bart_12e12d",
        updates=paper.TWO_STAGE_UPDATES,
        init_from="roberta-12e",
    )
    return _seq2seq(
        name,
        "bart_12e12d",
        "drop",
        freeze_encoder_updates=freeze_encoder_updates,
        **{**defaults, **kw},
    )


def _joint(name):
    """Recipe 3: bart_12e12d with an MLM head, both objectives in one run (recipe3.py)."""
    return _seq2seq(
        name,
        "bart_12e12d",
        "drop",
        arch="bart_12e12d_joint",
        task="recipes_joint_pretraining",
        criterion="recipes_joint",
        updates=recipe3.UPDATES,
        objective_schedule=recipe3.SCHEDULE,
        mlm_share=float(recipe3.MLM_SHARE),
        mlm_weight=recipe3.MLM_WEIGHT,
        denoising_weight=recipe3.DENOISING_WEIGHT,
        in_paper=False,
    )


#: Table 1, in the paper's order, then recipe 3 (not in the paper)
STAGES = {
    s.name: s
    for s in [
        _mlm("roberta-12e"),
        _seq2seq("bart-12e12d", "bart_12e12d", "drop"),
        _seq2seq("bart-12e12d-mask", "bart_12e12d", "mask"),
        _seq2seq("bart-12e2d", "bart_12e2d", "drop"),
        _seq2seq("bart-12e2d-mask", "bart_12e2d", "mask"),
        _seq2seq("bart-12e1d-mask", "bart_12e1d", "mask"),
        # recipe 1: the encoder of bart-12e12d, continued with MLM
        _mlm(
            "bart-12e12d+mlm",
            updates=paper.MLM_CONTINUE_UPDATES,
            peak_lr=paper.MLM_CONTINUE_PEAK_LR,
            warmup_updates=paper.MLM_CONTINUE_WARMUP_UPDATES,
            init_from="bart-12e12d",
            untie_output=True,
        ),
        # recipe 2: seq2seq warm-started from roberta-12e, encoder frozen (or not)
        _two_stage("2stage-bart-12e12d", freeze_encoder_updates=-1),
        _two_stage(
            "2stage-bart-12e12d-attn-f",
            freeze_encoder_updates=-1,
            cross_attention="fusion",
        ),
        _two_stage(
            "2stage-bart-12e12d-unfrz",
            updates=paper.UNFREEZE_FROZEN_UPDATES + paper.UNFREEZE_UNFROZEN_UPDATES,
            freeze_encoder_updates=paper.UNFREEZE_FROZEN_UPDATES,
        ),
        # recipe 3 (the paper's future work, our settings): MLM and span denoising jointly
        _joint(recipe3.NAME),
    ]
}

#: The ways to get both a multilingual encoder and a seq2seq model (paper, Table 1's
#: totals; recipe 3's is ours): name -> (encoder model, seq2seq model). Each costs the
#: stages behind both; recipe 3's one run makes both.
BOTH_MODELS = {
    "from scratch": ("roberta-12e", "bart-12e12d"),
    "recipe 1": ("bart-12e12d+mlm", "bart-12e12d"),
    "recipe 2": ("roberta-12e", "2stage-bart-12e12d"),
    "recipe 2, attention fusion": ("roberta-12e", "2stage-bart-12e12d-attn-f"),
    "recipe 2, unfrozen": ("roberta-12e", "2stage-bart-12e12d-unfrz"),
    "recipe 3, joint": (recipe3.NAME, recipe3.NAME),
}


def lineage(*names: str) -> list:
    """The stages that produce the named models, each once, every stage after the one
    it starts from (``init_from``)."""
    stages = []
    for name in names:
        if name not in STAGES:
            raise KeyError(f"unknown recipe {name!r}; known: {', '.join(STAGES)}")
        chain = []
        while name is not None:
            chain.insert(0, STAGES[name])
            name = STAGES[name].init_from
        stages += [stage for stage in chain if stage not in stages]
    return stages


#: Settings shared by every pre-training stage (paper, or XLM-R where the paper is silent).
COMMON = dict(
    tokens_per_update=paper.TOKENS_PER_UPDATE,
    tokens_per_sample=paper.TOKENS_PER_SAMPLE,
    dropout=paper.DROPOUT,
    adam_betas=f"({paper.ADAM_BETAS[0]}, {paper.ADAM_BETAS[1]})",
    adam_eps=paper.ADAM_EPS,
    weight_decay=paper.WEIGHT_DECAY,
    clip_norm=paper.CLIP_NORM,
    sampling_alpha=paper.SAMPLING_ALPHA,
)

#: Smoke mode: the same script at toy scale on a CPU. Not paper numbers: the smallest
#: settings at which a run still learns something in seconds. Update counts are divided
#: by SMOKE_UPDATE_DIVISOR (so two-stage schedules keep their proportions).
SMOKE = dict(
    embed_dim=64,
    ffn_dim=128,
    heads=4,
    tokens_per_sample=128,
    max_tokens=2048,
    update_divisor=20_000,
    warmup_updates=5,
    tokens_per_update=2048,
    # a tiny model takes a larger step than the paper's 1024-wide one
    peak_lr_scale=10,
)


def shell_assignments(name: str) -> str:
    """``R_*`` shell variables for one stage (upper-cased field names), then
    ``script_defaults``, the function that gives the train scripts' settings their
    defaults (``script_settings.shell_defaults``)."""
    if name not in STAGES:
        raise KeyError(f"unknown recipe {name!r}; known: {', '.join(STAGES)}")
    values = {**asdict(STAGES[name]), **COMMON}
    values.update({f"smoke_{k}": v for k, v in SMOKE.items()})
    lines = []
    for key, value in values.items():
        if value is None:
            value = ""
        elif isinstance(value, bool):
            value = int(value)  # 1 / 0 for shell tests
        lines.append(f"R_{key.upper()}={shlex.quote(str(value))}")
    from .script_settings import shell_defaults

    # the scripts' settings (script_settings.py), their defaults read from the above
    return "\n".join(lines + [shell_defaults()])


def cli_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_recipes.recipes",
        description="The paper's Table 1 stages, as used by train_scripts/.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the stage names")
    shell = sub.add_parser(
        "shell",
        help="print a stage's settings as R_* variables and script_defaults",
    )
    shell.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "list":
        print("\n".join(STAGES))
        return
    try:
        print(shell_assignments(args.name))
    except KeyError as err:
        from .cli import fail

        fail(err.args[0])


if __name__ == "__main__":
    cli_main()
