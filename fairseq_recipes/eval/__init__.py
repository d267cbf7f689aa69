"""Fine-tuning evaluation: predictions on whole examples, metrics, the per-seed runner."""
