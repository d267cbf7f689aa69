"""What the fine-tuning tasks read while training: examples cut into pieces the
encoder takes (``encoding.py``) as fairseq datasets (``datasets.py``)."""
