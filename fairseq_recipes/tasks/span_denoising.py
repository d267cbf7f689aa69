"""BART/mBART text infilling over packed multilingual blocks, in ``drop`` or ``mask`` mode.

15% of each block's tokens are selected in spans of zero-truncated Poisson(3) length; in
``drop`` mode the spans are deleted (the source has no ``<mask>``), in ``mask`` mode each
span becomes one ``<mask>``. No sentence permutation, rotation or insertion (unlike
fairseq's ``denoising`` task, whose ``--rotate`` defaults to 0.5 and which inserts a mask for
every empty span even with ``--replace-length 0``). The target is the whole block.
"""

from dataclasses import dataclass, field

from fairseq.data import LanguagePairDataset
from fairseq.dataclass import ChoiceEnum
from fairseq.models import FairseqEncoderDecoderModel
from fairseq.tasks import register_task

from .. import paper
from ..data.span_noise import SpanNoiseDataset
from .multilingual_blocks import (
    MultilingualBlocksTask,
    MultilingualDataConfig,
    TaskDataError,
)

NOISE_MODE_CHOICES = ChoiceEnum(["drop", "mask"])


@dataclass
class SpanDenoisingConfig(MultilingualDataConfig):
    noise_mode: NOISE_MODE_CHOICES = field(
        default="drop",
        metadata={
            "help": "drop: delete the noised spans; mask: replace each by one <mask>"
        },
    )
    noise_ratio: float = field(
        default=paper.SPAN_NOISE_RATIO,
        metadata={"help": "fraction of each block's tokens that are noised"},
    )
    poisson_lambda: float = field(
        default=paper.SPAN_POISSON_LAMBDA,
        metadata={"help": "mean of the Poisson span lengths (a length of 0 is redrawn)"},
    )


def denoising_dataset(blocks, dictionary, doc_sep_idx, mask_idx, cfg):
    """Span-denoising items of packed blocks: ``cfg``'s seed, noise_mode, noise_ratio and
    poisson_lambda (also recipe 3's denoising view, ``data/joint_noise.py``)."""
    return SpanNoiseDataset(
        blocks,
        blocks.sizes,
        dictionary,
        mode=str(cfg.noise_mode),
        seed=cfg.seed,
        noise_ratio=cfg.noise_ratio,
        poisson_lambda=cfg.poisson_lambda,
        doc_sep_idx=doc_sep_idx,
        mask_idx=mask_idx,
    )


@register_task("recipes_span_denoising", dataclass=SpanDenoisingConfig)
class SpanDenoisingTask(MultilingualBlocksTask):
    """``--task recipes_span_denoising``: the seq2seq models' pre-training."""

    cfg: SpanDenoisingConfig

    def build_noised_dataset(self, blocks, split):
        return denoising_dataset(
            blocks, self.dictionary, self.doc_sep_idx, self.mask_idx, self.cfg
        )

    def build_dataset_for_inference(self, src_tokens, src_lengths, **kwargs):
        return LanguagePairDataset(
            src_tokens,
            src_lengths,
            self.source_dictionary,
            tgt_dict=self.target_dictionary,
            shuffle=False,
        )

    def max_positions(self):
        return (self.cfg.tokens_per_sample, self.cfg.tokens_per_sample)

    def build_generator(self, models, args, **kwargs):
        # an MLM checkpoint has no decoder: fairseq's beam search would end in a bare
        # NotImplementedError deep inside it
        for model in models:
            if not isinstance(model, FairseqEncoderDecoderModel):
                raise TaskDataError(
                    f"--path: not a seq2seq checkpoint ({type(model).__name__} has no "
                    "decoder); generation needs a bart_12e* or 2stage-* checkpoint"
                )
        return super().build_generator(models, args, **kwargs)
