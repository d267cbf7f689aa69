"""Table 1: what each model and each way to get both models costs (``recipes-cost``).

Everything comes from the stage definitions the train scripts run
(``fairseq_recipes.recipes``): layer counts, update counts, freeze schedules and the
stage each recipe starts from. A model's cost includes the stages behind it (recipe 1's
encoder costs bart-12e12d's 10.0 TU plus its own 1.0). Two views side by side:

* the paper's estimate in TU (``training_units.py``), which is what Table 1 prints;
* FLOPs counted from the real shapes (``flops.py``) at the paper's width and an assumed
  250k vocabulary, or at any shape given on the command line, also expressed in TU (the
  FLOPs of one TU at that shape) so that the two views compare directly.

Recipe 3 (``bart-12e12d-joint``) is priced the same way from its stage (``recipes.py``,
settings ``recipe3.py``), by objective; its rows say ``in_paper: False``.
"""

from dataclasses import dataclass

from .. import paper
from ..recipes import BOTH_MODELS, STAGES, lineage
from .flops import (
    block_forward_flops,
    decoder_layer_forward,
    encoder_layer_forward,
    flops_per_tu,
    phase_flops,
    stage_shape,
)
from .training_units import layer_cost, phases


@dataclass(frozen=True)
class Width:
    """The sizes the FLOP view counts with (the TU view ignores them)."""

    hidden: int = paper.HIDDEN
    ffn: int = paper.FFN
    vocab: int = paper.VOCAB
    tokens_per_sample: int = paper.TOKENS_PER_SAMPLE

    def shape(self, stage):
        return stage_shape(
            stage, self.vocab, self.hidden, self.ffn, self.tokens_per_sample
        )


def _phase_rows(stages, width: Width) -> list:
    rows = []
    for stage in stages:
        for phase in phases(stage):
            rows.append(
                dict(
                    stage=stage.name,
                    updates=phase.updates,
                    encoder_frozen=phase.encoder_frozen,
                    decoder=phase.trains_decoder,
                    objectives=list(phase.objectives),
                    tu=phase.units(),
                    flops=phase_flops(phase, width.shape(stage), paper.TOKENS_PER_UPDATE),
                )
            )
    return rows


def model_cost(name: str, width: Width = Width()) -> dict:
    """One row of Table 1: the model ``name`` and every stage behind it."""
    stage = STAGES[name]
    stages = lineage(name)
    parts = _phase_rows(stages, width)
    flops = sum(p["flops"] for p in parts)
    # the decoder behind the model: an encoder taken out of a seq2seq model (recipe 1)
    # shows the decoder layers and updates of the stage it starts from, as the paper's
    # Table 1 does; its TU count that stage whole and its own stage without a decoder
    decoders = [s.decoder_layers for s in stages if s.decoder_layers > 0]
    return dict(
        model=name,
        in_paper=all(s.in_paper for s in lineage(name)),
        encoder_layers=stage.encoder_layers,
        decoder_layers=decoders[-1] if decoders else 0,
        encoder_updates=sum(p["updates"] for p in parts if not p["encoder_frozen"]),
        encoder_frozen_updates=sum(p["updates"] for p in parts if p["encoder_frozen"]),
        decoder_updates=sum(p["updates"] for p in parts if p["decoder"]),
        phases=parts,
        tu=sum(p["tu"] for p in parts),
        flops=flops,
        flops_in_tu=flops / flops_per_tu(width.shape(stage)),
    )


def both_models_cost(width: Width = Width()) -> list:
    """The totals of the ways to get an encoder and a seq2seq model (Table 1's bottom)."""
    rows = []
    for way, (encoder, seq2seq) in BOTH_MODELS.items():
        stages = lineage(encoder, seq2seq)
        parts = _phase_rows(stages, width)
        rows.append(
            dict(
                way=way,
                in_paper=all(s.in_paper for s in stages),
                encoder=encoder,
                seq2seq=seq2seq,
                phases=parts,
                tu=sum(p["tu"] for p in parts),
                flops=sum(p["flops"] for p in parts),
            )
        )
    baseline = rows[0]
    for row in rows:
        row["tu_saving"] = 1 - row["tu"] / baseline["tu"]
        row["flops_saving"] = 1 - row["flops"] / baseline["flops"]
    return rows


def disagreements(width: Width = Width()) -> list:
    """Where counting FLOPs of the real shapes departs from the paper's estimate."""
    seq2seq = block_forward_flops(
        STAGES["bart-12e12d"], width.shape(STAGES["bart-12e12d"])
    )
    mlm = block_forward_flops(STAGES["roberta-12e"], width.shape(STAGES["roberta-12e"]))
    frozen = STAGES["2stage-bart-12e12d"]
    frozen_flops = block_forward_flops(frozen, width.shape(frozen))
    unit = flops_per_tu(width.shape(STAGES["roberta-12e"])) / 3
    n, d, f = width.tokens_per_sample, width.hidden, width.ffn
    layer_ratio = decoder_layer_forward(n, n, d, f) / encoder_layer_forward(n, d, f)
    ways = both_models_cost(width)
    tu_ratio = layer_cost(
        frozen.encoder_layers, frozen.decoder_layers, True
    ) / layer_cost(frozen.encoder_layers, frozen.decoder_layers, False)
    return [
        f"A frozen layer costs 1/3 of a trained one by FLOPs (forward only, no backward: "
        f"freezing saves two thirds), not the paper's {paper.FROZEN_LAYER_COST:g}; but "
        f"the encoder is not all of the model: freezing it makes "
        f"2stage-bart-12e12d's own stage cost "
        f"{frozen_flops.train(True) / frozen_flops.train(False):.2f} of an unfrozen one "
        f"by FLOPs, against {tu_ratio:.2f} in TU.",
        f"The output projection over a {width.vocab:,}-token vocabulary is "
        f"{seq2seq.output / seq2seq.total:.0%} of bart-12e12d's FLOPs and "
        f"{mlm.output / mlm.total:.0%} of roberta-12e's (whose head runs only on the "
        f"{paper.MLM_MASK_PROB:.0%} predicted positions); TU count layers only.",
        f"A decoder layer (self- and cross-attention) costs {layer_ratio:.2f} encoder "
        f"layers by FLOPs (same length); TU count them equal. One TU is "
        f"{unit * 3:.3g} FLOPs at width {width.hidden} and {width.tokens_per_sample}-token "
        f"blocks.",
        "Savings against training both from scratch, TU / FLOPs: "
        + "; ".join(
            f"{w['way']} {w['tu_saving']:.1%} / {w['flops_saving']:.1%}" for w in ways[1:]
        )
        + ".",
    ]
