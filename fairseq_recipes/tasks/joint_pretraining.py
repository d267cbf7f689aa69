"""Recipe 3: MLM and span denoising trained jointly, one run for both models.

``--task recipes_joint_pretraining`` (with ``--arch bart_12e12d_joint --criterion
recipes_joint``) reads the same packed multilingual blocks as ``recipes_mlm`` and
``recipes_span_denoising``, and every batch carries both noisings of its blocks
(``data/joint_noise.py``): each view is the one the single-objective task makes with the
same options and seed. Each update trains the objectives that ``--objective-schedule``
gives it (``data/objective_schedule.py``): MLM through the encoder and its MLM head alone,
span denoising through the whole model, or both.

* The compute ledger prices each update at what it computed: an MLM update at the
  encoder's 12 layers (TU) and the encoder plus the MLM head on the masked positions
  (FLOPs), a denoising update as ``bart-12e12d``'s, both as their sum. It keeps each
  objective's updates, tokens, TU and FLOPs (``task_state["recipes_ledger"]["objectives"]``).
* What an update does not train keeps its exact values: the decoder on an MLM update, the
  MLM head on a denoising update. Adam skips parameters without a gradient; under
  fairseq's fp16/bf16 optimizers and ``legacy_ddp``, which hand them zero gradients, the
  values are restored after the step (``models/freeze.py``).
* The schedule has no state beyond the update count (restored by fairseq), so a resumed
  run takes the uninterrupted run's objective at every update; its settings are saved in
  every checkpoint and a resume that changes them is refused.
* Every checkpoint save also writes the run's two models, ready for use with no
  extraction step (``checkpoints/joint_views.py``): ``encoder_last.pt`` (``roberta_12e``
  with its MLM head) and ``seq2seq_last.pt`` (``bart_12e12d``).

The defaults and why: ``fairseq_recipes/recipe3.py``.
"""

import logging
from dataclasses import dataclass, field, replace

from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from .. import paper, recipe3
from ..cost.ledger import FLOPS_KEY, TOKENS_KEY, TU_KEY, batch_cost, objective_key
from ..data.joint_noise import JointNoiseDataset
from ..data.objective_schedule import (
    MLM,
    OBJECTIVES,
    SCHEDULES,
    ObjectiveSchedule,
)
from ..errors import RecipesError
from ..models.freeze import protect_parameters, unwrap
from .mlm import mlm_dataset
from .span_denoising import SpanDenoisingConfig, SpanDenoisingTask, denoising_dataset

logger = logging.getLogger(__name__)

SCHEDULE_STATE_KEY = "recipes_objective_schedule"


@dataclass
class JointPretrainingConfig(SpanDenoisingConfig):
    mask_prob: float = field(
        default=paper.MLM_MASK_PROB,
        metadata={"help": "MLM: fraction of tokens selected for prediction"},
    )
    leave_unmasked_prob: float = field(
        default=paper.MLM_LEAVE_UNMASKED_PROB,
        metadata={"help": "MLM: fraction of the selected tokens left unchanged"},
    )
    random_token_prob: float = field(
        default=paper.MLM_RANDOM_TOKEN_PROB,
        metadata={"help": "MLM: fraction of the selected tokens made a random token"},
    )
    objective_schedule: ChoiceEnum(SCHEDULES) = field(
        default=recipe3.SCHEDULE,
        metadata={
            "help": "alternate: each update trains one objective, MLM at evenly spread "
            "updates; sample: MLM with probability --mlm-share, drawn per update; sum: "
            "both objectives at every update"
        },
    )
    mlm_share: float = field(
        default=float(recipe3.MLM_SHARE),
        metadata={
            "help": "fraction of the updates that train MLM only (alternate, sample)"
        },
    )


@register_task("recipes_joint_pretraining", dataclass=JointPretrainingConfig)
class JointPretrainingTask(SpanDenoisingTask):
    """``--task recipes_joint_pretraining`` (see the module docstring)."""

    cfg: JointPretrainingConfig
    ledger_objectives = OBJECTIVES

    def __init__(self, cfg, dictionary, langs):
        super().__init__(cfg, dictionary, langs)
        try:
            self.schedule = ObjectiveSchedule(
                str(cfg.objective_schedule), cfg.mlm_share, cfg.seed
            )
        except ValueError as err:
            raise RecipesError(f"--objective-schedule / --mlm-share: {err}") from None

    def build_noised_dataset(self, blocks, split):
        cfg, vocab = self.cfg, self.dictionary
        return JointNoiseDataset(
            mlm_dataset(blocks, vocab, self.mask_idx, cfg),
            denoising_dataset(blocks, vocab, self.doc_sep_idx, self.mask_idx, cfg),
            blocks.sizes,
        )

    # ---- training ------------------------------------------------------------------
    def train_step(
        self, sample, model, criterion, optimizer, update_num, ignore_grad=False
    ):
        sample = {**sample, "objectives": self.schedule.objectives(update_num)}
        return super().train_step(
            sample, model, criterion, optimizer, update_num, ignore_grad
        )

    def optimizer_step(self, optimizer, model, update_num):
        idle = unwrap(model).idle_parameters(self.schedule.objectives(update_num))
        with protect_parameters(idle, optimizer):
            super().optimizer_step(optimizer, model, update_num)

    def training_cost(self, sample, model) -> dict:
        """Each objective the update trained, priced by what it computed."""
        shape, pad = self._model_shape(model), self.dictionary.pad()
        objectives = sample.get("objectives", OBJECTIVES)
        costs = {}
        for objective in objectives:
            view = sample[objective]
            source = view["net_input"]["src_tokens"].ne(pad).sum(dim=1).tolist()
            # MLM: the target holds the predicted positions only
            target = view["target"].ne(pad).sum(dim=1).tolist()
            part = replace(shape, decoder_layers=0) if objective == MLM else shape
            costs[objective] = batch_cost(sample["ntokens"], source, target, part, False)
        total = {
            TU_KEY: sum(c[TU_KEY] for c in costs.values()),
            FLOPS_KEY: sum(c[FLOPS_KEY] for c in costs.values()),
            TOKENS_KEY: int(sample["ntokens"]),
        }
        for objective in OBJECTIVES:  # every key on every batch (fairseq sums by keys)
            for key in (TU_KEY, FLOPS_KEY, TOKENS_KEY):
                total[objective_key(key, objective)] = costs.get(objective, {}).get(
                    key, 0
                )
        return total

    # ---- checkpoints ---------------------------------------------------------------
    def state_dict(self):
        return {**super().state_dict(), SCHEDULE_STATE_KEY: self.schedule.state()}

    def resume_state_dict(self, state: dict) -> None:
        saved, ours = state.get(SCHEDULE_STATE_KEY), self.schedule.state()
        if saved is not None and dict(saved) != ours:
            changed = [k for k in ours if str(saved.get(k)) != str(ours[k])]
            was = ", ".join(f"{k}={saved.get(k)}" for k in changed)
            now = ", ".join(f"{k}={ours[k]}" for k in changed)
            raise RecipesError(
                f"the run being resumed was started with {was}, this one asks for {now} "
                "(--objective-schedule, --mlm-share, --seed): a resumed run keeps its "
                "objective schedule; start a new run in another --save-dir to change it"
            )
        super().resume_state_dict(state)

    def checkpoint_saved(self, trainer, path: str) -> None:
        """After every checkpoint save (``compat/checkpoint_saved.py``): the run's two
        models beside it."""
        from ..checkpoints.joint_views import write_views

        written = write_views(trainer, path)
        logger.info(f"the run's models: {', '.join(str(p) for p in written)}")

    def max_positions(self):
        return (self.cfg.tokens_per_sample, self.cfg.tokens_per_sample)
