"""Fine-tuning evaluation: predictions on whole examples, metrics, the per-seed runner."""

#: where the main job writes a further pre-training seed's results (seed k >= 2), below
#: RESULTS; seed 1 writes to RESULTS itself. ``report.py`` reads both.
PRETRAIN_SEED_DIR = "pretrain-seed{}"
