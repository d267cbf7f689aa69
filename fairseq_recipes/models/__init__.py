"""Model architectures; each module registers itself with fairseq on import."""

from . import architectures, two_stage  # noqa: F401
