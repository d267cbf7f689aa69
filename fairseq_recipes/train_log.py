"""fairseq-train's JSON log (``--log-format json``, what the train scripts pass).

Every progress line is a JSON object logged under a tag: ``train_inner`` (the running
average over the last ``--log-interval`` updates, keys as logged: ``loss``,
``num_updates``, ...), ``train`` (the epoch's average, keys prefixed ``train_``) and one
per validation subset (``valid_en``: keys prefixed ``valid_en_``). fairseq formats the
numbers as strings; ``records`` gives them as floats, and leaves out a meter logged as
``null`` (one with no value in that window: recipe 3's ``mlm_loss`` in a window of
span-denoising updates only).

The epoch summary is an average over the whole epoch, not a value at its last update:
a curve of loss against updates takes ``train_inner`` records only.
"""

import json
import re
from typing import Dict, List, Tuple

# "2026-01-01 12:00:00 | INFO | train_inner | {...}"
_LINE = re.compile(r"\| ([\w.-]+) \| (\{.*\})\s*$", re.M)


def _number(value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def records(text: str, tag: str) -> List[dict]:
    """The JSON records logged under ``tag``, in order, numbers as floats."""
    out = []
    for found_tag, body in _LINE.findall(text):
        if found_tag != tag:
            continue
        try:
            record = json.loads(body)
        except json.JSONDecodeError:  # a line cut by a kill
            continue
        out.append({k: _number(v) for k, v in record.items() if v is not None})
    return out


def last_update(text: str):
    """The largest update count any record reports (``train_inner``, the epoch summary,
    a validation), or None when there is none."""
    found = [
        int(v)
        for tag in dict.fromkeys(t for t, _ in _LINE.findall(text))
        for record in records(text, tag)
        for k, v in record.items()
        if k.endswith("num_updates") and isinstance(v, float)
    ]
    return max(found, default=None)


def per_update(text: str, tag: str = "train_inner") -> Dict[int, dict]:
    """{update: the record logged at it} (a resumed run's repeated updates: the last)."""
    prefix = "" if tag == "train_inner" else f"{tag}_"
    out = {}
    for record in records(text, tag):
        update = record.get(f"{prefix}num_updates")
        if update is not None:
            out[int(update)] = record
    return out


def train_losses(text: str, key: str = "loss") -> List[Tuple[int, float]]:
    """[(update, ``key``)] of the ``train_inner`` records that have it: the training
    loss at each logged update (recipe 3: ``mlm_loss``, ``denoising_loss``)."""
    return [(u, r[key]) for u, r in sorted(per_update(text).items()) if key in r]


def validation_tags(text: str) -> List[str]:
    """The validation subsets logged (``valid_en``, ...), in first-seen order."""
    tags = [t for t, _ in _LINE.findall(text) if t.startswith("valid")]
    return list(dict.fromkeys(tags))


def valid_losses(text: str, tag: str, key: str = "loss") -> List[Tuple[int, float]]:
    """[(update, ``key``)] of one validation subset (``valid_en``)."""
    key = f"{tag}_{key}"
    return [(u, r[key]) for u, r in sorted(per_update(text, tag).items()) if key in r]
