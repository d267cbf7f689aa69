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

Recipe 3's joint run is priced per objective: an MLM update runs the encoder alone (its
layers only), a span-denoising update the whole model, an update of both the sum of the
two; :func:`phases` splits the run into the updates of each (as its schedule plans them).
"""

from dataclasses import dataclass

from .. import paper
from ..data.objective_schedule import DENOISING, MLM, OBJECTIVES, planned_updates
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
    """A run of updates of one stage with one freeze state (and, in recipe 3's joint
    run, one set of objectives)."""

    stage: Stage
    updates: float  # recipe 3's sampled schedule plans an expected number
    encoder_frozen: bool
    #: recipe 3: what these updates train ("mlm": the encoder and its MLM head alone,
    #: "denoising": the whole model); empty: the stage's single objective
    objectives: tuple = ()

    def tokens(self, tokens_per_update: int = paper.TOKENS_PER_UPDATE) -> float:
        return self.updates * tokens_per_update

    def decoder_layers(self, objective: str = "") -> int:
        """The decoder layers an update of ``objective`` runs (MLM: none)."""
        return 0 if objective == MLM else self.stage.decoder_layers

    @property
    def trains_decoder(self) -> bool:
        return self.stage.decoder_layers > 0 and (
            not self.objectives or DENOISING in self.objectives
        )

    def units(self, tokens_per_update: int = paper.TOKENS_PER_UPDATE) -> float:
        s = self.stage
        return sum(
            training_units(
                self.tokens(tokens_per_update),
                s.encoder_layers,
                self.decoder_layers(objective),
                self.encoder_frozen,
            )
            for objective in (self.objectives or ("",))
        )


def phases(stage: Stage) -> list:
    """The stage's updates split by freeze state (recipe 2's ``-unfrz``: two phases) or,
    in recipe 3's joint run, by objective."""
    if stage.objective_schedule:
        if stage.objective_schedule == "sum":
            return [Phase(stage, stage.updates, False, OBJECTIVES)]
        planned = planned_updates(
            stage.updates, stage.objective_schedule, stage.mlm_share
        )
        split = [Phase(stage, planned[o], False, (o,)) for o in (MLM, DENOISING)]
        return [phase for phase in split if phase.updates > 0]
    frozen = stage.freeze_encoder_updates
    if frozen == -1:
        return [Phase(stage, stage.updates, True)]
    frozen = min(frozen, stage.updates)
    split = [Phase(stage, frozen, True), Phase(stage, stage.updates - frozen, False)]
    return [phase for phase in split if phase.updates > 0]


def stage_units(stage: Stage) -> float:
    return sum(phase.units() for phase in phases(stage))
