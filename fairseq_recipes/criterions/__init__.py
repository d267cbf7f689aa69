"""Fine-tuning criterions; each module registers itself with fairseq on import (the
pre-training tasks use fairseq's own ``masked_lm`` and ``cross_entropy``)."""

from . import labels  # noqa: F401
