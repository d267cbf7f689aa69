"""Readers of the fine-tuning datasets in their released formats (XNLI, MultiATIS++,
WikiANN/PAN-X, UDPOS): examples with their source line, one-line errors."""
