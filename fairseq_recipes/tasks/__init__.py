"""Pre-training tasks; each module registers itself with fairseq on import."""

from . import mlm, span_denoising  # noqa: F401
