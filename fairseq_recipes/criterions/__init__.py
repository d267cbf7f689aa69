"""Criterions; each module registers itself with fairseq on import: the fine-tuning
losses (``labels``) and recipe 3's joint pre-training loss (``joint``; the paper's
pre-training tasks use fairseq's own ``masked_lm`` and ``cross_entropy``)."""

from . import joint, labels  # noqa: F401
