"""Pre-training and fine-tuning tasks; each module registers itself with fairseq on
import."""

from . import (  # noqa: F401
    intent_slots,
    joint_pretraining,
    mlm,
    semantic_parsing,
    sentence_pair,
    span_denoising,
    summarization,
    word_tagging,
)
