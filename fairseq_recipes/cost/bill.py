"""The GPU bill of Table 1: each model's and each way's FLOPs at the paper's scale, priced
in GPU-hours (``gpus.py``).

The paper's scale is Table 1's update counts (``recipes.STAGES``: 500k updates per stage,
recipe 1's 100k, the unfreezing run's 200k frozen + 150k unfrozen) at 1M tokens per
update; a model's bill includes the stages behind it, as Table 1's TU do. What a stage
costs per update comes from a table of *rates*: training FLOPs per 1M-token update of
each (stage, encoder frozen) phase, either counted by the compute ledger of a run at the
paper's shapes (the rehearsal, ``pipeline/rehearsal.py``) or predicted by the formula
(``formula_rates``). GPU-hours are FLOPs over peak x MFU, the same for every model, so
the ratios between recipes are the FLOP ratios.
"""

from typing import Dict, Optional, Tuple

from .. import paper
from ..recipes import BOTH_MODELS, STAGES, lineage
from .flops import phase_flops
from .gpus import DEFAULT_MFU, GPU_PEAK_FLOPS, gpu_hours
from .table1 import Width
from .training_units import Phase, phases

#: the tokens a rate is quoted per
RATE_TOKENS = 1_000_000
#: (stage name, encoder frozen, objectives) -> training FLOPs per RATE_TOKENS-token
#: update; objectives: ``rate_objectives`` of the phase ("" for a one-objective stage)
Rates = Dict[Tuple[str, bool, str], float]


def rate_objectives(phase: Phase) -> str:
    """The objectives part of a phase's rate key: recipe 3's updates cost by objective
    (an MLM update runs the encoder alone), every other stage's are all alike."""
    return "+".join(phase.objectives)


def rate_key(phase: Phase) -> Tuple[str, bool, str]:
    return (phase.stage.name, phase.encoder_frozen, rate_objectives(phase))


def formula_rates(width: Width = Width()) -> Rates:
    """The formula's rates (``flops.py``) at a width and vocabulary."""
    rates = {}
    for stage in STAGES.values():
        for phase in phases(stage):
            one = Phase(stage, 1, phase.encoder_frozen, phase.objectives)
            rates[rate_key(phase)] = phase_flops(one, width.shape(stage), RATE_TOKENS)
    return rates


def paper_flops(names, rates: Rates) -> Optional[float]:
    """FLOPs of the stages behind ``names`` at the paper's scale; None when a phase has
    no rate."""
    total = 0.0
    for stage in lineage(*names):
        for phase in phases(stage):
            rate = rates.get(rate_key(phase))
            if rate is None:
                return None
            total += phase.updates * rate * paper.TOKENS_PER_UPDATE / RATE_TOKENS
    return total


def _priced(flops: Optional[float], mfu: float) -> dict:
    hours = {
        gpu: None if flops is None else gpu_hours(flops, gpu, mfu)
        for gpu in GPU_PEAK_FLOPS
    }
    return dict(flops=flops, gpu_hours=hours)


def bill(rates: Rates, mfu: float = DEFAULT_MFU) -> dict:
    """Every Table 1 row and every way to get both models, in FLOPs and GPU-hours;
    ``ratio``: a way's FLOPs over training both from scratch."""
    models = [
        dict(model=name, **_priced(paper_flops([name], rates), mfu)) for name in STAGES
    ]
    ways = [
        dict(
            way=way,
            encoder=encoder,
            seq2seq=seq2seq,
            **_priced(paper_flops([encoder, seq2seq], rates), mfu),
        )
        for way, (encoder, seq2seq) in BOTH_MODELS.items()
    ]
    base = ways[0]["flops"]
    for way in ways:
        way["ratio"] = None if not base or way["flops"] is None else way["flops"] / base
    return dict(mfu=mfu, peak_flops=dict(GPU_PEAK_FLOPS), models=models, ways=ways)


def _fmt(x, spec):
    return "" if x is None else spec.format(x)


def bill_rows(b: dict, reference: Optional[dict] = None) -> tuple:
    """(headers, rows) of the models' and of the ways' bill tables; ``reference`` (another
    ``bill``, e.g. the formula's) adds its FLOPs beside this one's."""
    gpus = list(b["peak_flops"])
    hours = [f"{g} GPU-hours" for g in gpus]
    ref_models = {m["model"]: m for m in (reference or {}).get("models", [])}
    ref_ways = {w["way"]: w for w in (reference or {}).get("ways", [])}
    extra = ["FLOPs (formula)"] if reference else []
    model_headers = ["Model", "FLOPs", *extra, *hours]
    models = [
        [
            m["model"],
            _fmt(m["flops"], "{:.3g}"),
            *([_fmt(ref_models[m["model"]]["flops"], "{:.3g}")] if reference else []),
            *[_fmt(m["gpu_hours"][g], "{:,.0f}") for g in gpus],
        ]
        for m in b["models"]
    ]
    extra = ["vs from scratch (formula)"] if reference else []
    way_headers = [
        "Both models",
        "Encoder + seq2seq",
        "FLOPs",
        *hours,
        "vs from scratch",
        *extra,
    ]
    ways = [
        [
            w["way"],
            f"{w['encoder']} + {w['seq2seq']}",
            _fmt(w["flops"], "{:.3g}"),
            *[_fmt(w["gpu_hours"][g], "{:,.0f}") for g in gpus],
            _fmt(w["ratio"], "{:.3f}"),
            *([_fmt(ref_ways[w["way"]]["ratio"], "{:.3f}")] if reference else []),
        ]
        for w in b["ways"]
    ]
    return (model_headers, models), (way_headers, ways)


def bill_title(b: dict, source: str) -> str:
    peaks = ", ".join(f"{g} {p / 1e12:g} TFLOP/s" for g, p in b["peak_flops"].items())
    return (
        f"GPU bill at the paper's scale (Table 1's updates, {paper.TOKENS_PER_UPDATE:,} "
        f"tokens per update; a model includes the stages behind it), FLOPs {source}: "
        f"GPU-hours = FLOPs / (peak x MFU), peak bf16 dense {peaks}, MFU "
        f"{b['mfu']:.0%} (assumed)."
    )
