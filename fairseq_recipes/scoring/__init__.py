"""Metrics of the fine-tuning evaluations: seqeval for labelled spans, and the fairseq
scorers of the seq2seq tasks (``--scoring recipes_sciem``, ``--scoring recipes_rouge``),
which register themselves on import."""

from . import rouge, sciem  # noqa: F401
