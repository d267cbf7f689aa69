"""Learning-rate schedulers fairseq lacks; each module registers itself on import."""

from . import exponential_warmup  # noqa: F401
