"""Training Units (TU), the paper's unit of compute (paper, Table 1).

One TU is ``TU_UPDATES`` updates of ``TU_LAYERS`` layers with ``TU_TOKENS_PER_UPDATE``
tokens per update, forward and backward. A frozen layer costs ``FROZEN_LAYER_COST`` of a
trained one (the paper's estimate: forward only). So training on ``tokens`` tokens costs

    tokens / (TU_UPDATES * TU_TOKENS_PER_UPDATE)
        * (encoder_layers * (FROZEN_LAYER_COST if frozen else 1) + decoder_layers) / TU_LAYERS

The unit counts layers and tokens only: it is blind to width, sequence length, vocabulary
and to what a layer contains (a decoder layer also cross-attends). ``flops.py`` counts
those. The same function prices a whole stage before a run (updates x tokens per update)
and every batch during one (its real token count, see ``ledger.py``).
"""

from dataclasses import dataclass

from .. import paper
from ..recipes import Stage


def layer_cost(encoder_layers: int, decoder_layers: int, encoder_frozen: bool) -> float:
    """Layers in units of a trained layer."""
    scale = paper.FROZEN_LAYER_COST if encoder_frozen else 1.0
    return encoder_layers * scale + decoder_layers


def training_units(
    tokens: float, encoder_layers: int, decoder_layers: int, encoder_frozen: bool = False
) -> float:
    """TU of training a model of these layers on ``tokens`` tokens."""
    per_tu = paper.TU_UPDATES * paper.TU_TOKENS_PER_UPDATE * paper.TU_LAYERS
    return tokens * layer_cost(encoder_layers, decoder_layers, encoder_frozen) / per_tu


@dataclass(frozen=True)
class Phase:
    """A run of updates of one stage with one freeze state."""

    stage: Stage
    updates: int
    encoder_frozen: bool

    def tokens(self, tokens_per_update: int = paper.TOKENS_PER_UPDATE) -> int:
        return self.updates * tokens_per_update

    def units(self, tokens_per_update: int = paper.TOKENS_PER_UPDATE) -> float:
        s = self.stage
        return training_units(
            self.tokens(tokens_per_update),
            s.encoder_layers,
            s.decoder_layers,
            self.encoder_frozen,
        )


def phases(stage: Stage) -> list:
    """The stage's updates split by freeze state (recipe 2's ``-unfrz``: two phases)."""
    frozen = stage.freeze_encoder_updates
    if frozen == -1:
        return [Phase(stage, stage.updates, True)]
    frozen = min(frozen, stage.updates)
    split = [Phase(stage, frozen, True), Phase(stage, stage.updates - frozen, False)]
    return [phase for phase in split if phase.updates > 0]


def stage_units(stage: Stage) -> float:
    return sum(phase.units() for phase in phases(stage))
