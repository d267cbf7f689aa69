"""Model architectures; each module registers itself with fairseq on import."""

from . import architectures, encoder_heads, two_stage  # noqa: F401
