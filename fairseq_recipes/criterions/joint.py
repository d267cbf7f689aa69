"""Recipe 3's loss: MLM through the encoder, span denoising through the whole model.

``--criterion recipes_joint`` computes the objectives the batch's update trains
(``sample["objectives"]``, set by ``recipes_joint_pretraining``; validation computes both)
with fairseq's own losses: ``cross_entropy``'s ``compute_loss`` for span denoising, and
``masked_lm``'s cross-entropy over the masked positions only for MLM. Each objective's
loss is its sum over its tokens times its weight (``--mlm-weight``, ``--denoising-weight``):

* one objective: the loss and the normaliser (``sample_size``) of the single-objective
  criterion, so an MLM update is ``roberta-12e``'s and a denoising update
  ``bart-12e12d``'s (``masked_lm`` normalises by the masked positions, ``cross_entropy``
  by the target tokens);
* both (``--objective-schedule sum``, and validation): ``sample_size`` is the target
  tokens, and the MLM sum is scaled by target tokens / masked positions, so the gradient
  of one batch is ``w_mlm x`` the MLM update's plus ``w_denoising x`` the denoising
  update's (the sum of the two per-token means); over several batches of one update each
  batch's MLM mean is weighted by its tokens.

Logged: ``loss`` (what the updates optimised, base 2), and ``mlm_loss`` and
``denoising_loss``, each objective's per-token loss in base 2 over the batches that
computed it (absent, ``None``, in a logging window without such an update).
"""

import math
from dataclasses import dataclass, field

from fairseq import modules
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.criterions.cross_entropy import CrossEntropyCriterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics

from .. import recipe3
from ..data.objective_schedule import DENOISING, MLM, OBJECTIVES
from ..errors import RecipesError


@dataclass
class JointCriterionConfig(FairseqDataclass):
    mlm_weight: float = field(
        default=recipe3.MLM_WEIGHT,
        metadata={"help": "weight of the MLM loss (its mean over the masked positions)"},
    )
    denoising_weight: float = field(
        default=recipe3.DENOISING_WEIGHT,
        metadata={
            "help": "weight of the span-denoising loss (its mean per target token)"
        },
    )


def _sum_key(objective):
    return f"_{objective}_loss_sum"


def _tokens_key(objective):
    return f"_{objective}_tokens"


@register_criterion("recipes_joint", dataclass=JointCriterionConfig)
class JointCriterion(FairseqCriterion):
    def __init__(self, cfg: JointCriterionConfig, task):
        super().__init__(task)
        for name in ("mlm_weight", "denoising_weight"):
            if getattr(cfg, name) < 0:
                raise RecipesError(
                    f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be >= 0"
                )
        self.weights = {MLM: cfg.mlm_weight, DENOISING: cfg.denoising_weight}
        self.cross_entropy = CrossEntropyCriterion(task, sentence_avg=False)

    def forward(self, model, sample, reduce=True):
        objectives = sample.get("objectives", OBJECTIVES)
        denoising, mlm = sample[DENOISING], sample[MLM]
        masked = mlm["target"].ne(self.padding_idx)
        n_masked = int(masked.sum())
        if n_masked == 0:  # as masked_lm on CPU: project everything, every target pad
            masked = None
        mlm_logits = net_output = None
        if DENOISING in objectives:
            extra = {}
            if MLM in objectives:  # one forward for both (one DDP forward per batch)
                extra = dict(
                    mlm_src_tokens=mlm["net_input"]["src_tokens"], masked_tokens=masked
                )
            net_output = model(**denoising["net_input"], **extra)
            mlm_logits = net_output[1].get("mlm_logits")
        elif MLM in objectives:
            mlm_logits = model(**mlm["net_input"], masked_tokens=masked)[0]

        sums, tokens = {}, {}
        if net_output is not None:
            sums[DENOISING], _ = self.cross_entropy.compute_loss(
                model, net_output, denoising, reduce=True
            )
            tokens[DENOISING] = denoising["ntokens"]
        if mlm_logits is not None:
            targets = mlm["target"] if masked is None else mlm["target"][masked]
            sums[MLM] = modules.cross_entropy(
                mlm_logits.view(-1, mlm_logits.size(-1)),
                targets.view(-1),
                reduction="sum",
                ignore_index=self.padding_idx,
            )
            tokens[MLM] = n_masked

        if len(sums) == 1:
            (objective,) = sums
            loss = self.weights[objective] * sums[objective]
            sample_size = tokens[objective]
        else:
            sample_size = tokens[DENOISING]
            scale = sample_size / n_masked if n_masked else 0.0
            loss = (
                self.weights[DENOISING] * sums[DENOISING]
                + self.weights[MLM] * scale * sums[MLM]
            )
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
        }
        # every key on every batch (0 when not computed): fairseq sums logging outputs
        # over batches and ranks by the keys of the first one
        for objective in OBJECTIVES:
            value = sums.get(objective)
            logging_output[_sum_key(objective)] = 0.0 if value is None else value.data
            logging_output[_tokens_key(objective)] = tokens.get(objective, 0)
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        sample_size = total("sample_size")
        metrics.log_scalar(
            "loss",
            total("loss") / max(sample_size, 1) / math.log(2),
            sample_size,
            round=3,
        )
        for objective in OBJECTIVES:
            n = total(_tokens_key(objective))
            if n > 0:
                metrics.log_scalar(
                    f"{objective}_loss",
                    total(_sum_key(objective)) / n / math.log(2),
                    n,
                    round=3,
                )

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
