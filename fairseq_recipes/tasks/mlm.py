"""XLM-R style masked language modelling over packed multilingual blocks.

The masking is fairseq's ``MaskTokensDataset`` (15% of positions; of those 80% ``<mask>``,
10% a random token, 10% unchanged; seeded by (seed, epoch, index)), with its random
token drawn from text pieces only, never ``<mask>``, ``[DOC]`` or a word sentinel
(``data/mlm_masking.py``), and the loss is fairseq's ``masked_lm`` criterion (selected
positions only): the paper's encoder objective is XLM-R's, so we reuse fairseq's
implementation rather than write another.
"""

from dataclasses import dataclass, field

from fairseq.data import (
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    RightPadDataset,
)
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig

from .. import paper
from ..data.mlm_masking import TextReplacementMaskTokensDataset
from ..preprocessing.vocab import EXTRA_SYMBOLS
from .multilingual_blocks import MultilingualBlocksTask, MultilingualDataConfig


@dataclass
class MultilingualMLMConfig(MultilingualDataConfig, MaskedLMConfig):
    mask_prob: float = field(
        default=paper.MLM_MASK_PROB,
        metadata={"help": "fraction of tokens selected for prediction"},
    )
    leave_unmasked_prob: float = field(
        default=paper.MLM_LEAVE_UNMASKED_PROB,
        metadata={"help": "fraction of the selected tokens left unchanged"},
    )
    random_token_prob: float = field(
        default=paper.MLM_RANDOM_TOKEN_PROB,
        metadata={"help": "fraction of the selected tokens replaced by a random token"},
    )


def mlm_dataset(blocks, dictionary, mask_idx, cfg):
    """MLM batches of packed blocks: ``cfg``'s seed, mask_prob, leave_unmasked_prob and
    random_token_prob (also recipe 3's MLM view, ``data/joint_noise.py``)."""
    pad = dictionary.pad()
    src, tgt = TextReplacementMaskTokensDataset.apply_mask(
        blocks,
        dictionary,
        pad_idx=pad,
        mask_idx=mask_idx,
        seed=cfg.seed,
        mask_prob=cfg.mask_prob,
        leave_unmasked_prob=cfg.leave_unmasked_prob,
        random_token_prob=cfg.random_token_prob,
        not_replacements=[dictionary.index(s) for s in EXTRA_SYMBOLS],
    )
    return NestedDictionaryDataset(
        {
            "id": IdDataset(),
            "net_input": {
                "src_tokens": RightPadDataset(src, pad_idx=pad),
                "src_lengths": NumelDataset(src, reduce=False),
            },
            "target": RightPadDataset(tgt, pad_idx=pad),
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(src, reduce=True),
        },
        sizes=[src.sizes],
    )


@register_task("recipes_mlm", dataclass=MultilingualMLMConfig)
class MultilingualMLMTask(MultilingualBlocksTask):
    """``--task recipes_mlm``: the encoder's pre-training (Table 1, roberta-12e)."""

    cfg: MultilingualMLMConfig

    def build_noised_dataset(self, blocks, split):
        return mlm_dataset(blocks, self.dictionary, self.mask_idx, self.cfg)

    def max_positions(self):
        return self.cfg.tokens_per_sample
