"""Model architectures; each module registers itself with fairseq on import."""

from . import architectures, encoder_heads, pretrained_seq2seq, two_stage  # noqa: F401
