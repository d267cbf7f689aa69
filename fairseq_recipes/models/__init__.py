"""Model architectures; each module registers itself with fairseq on import."""

from . import (  # noqa: F401
    architectures,
    encoder_heads,
    joint,
    pretrained_seq2seq,
    two_stage,
)
