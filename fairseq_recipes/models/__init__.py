"""Model architectures; each module registers itself with fairseq on import."""

from . import architectures  # noqa: F401
