"""Metrics of the fine-tuning evaluations (seqeval for labelled spans)."""
