"""Observe every training process of a run, whoever starts it (a train script, torchrun).

Used by the distributed tests and ``benchmarks/distributed.py``. With
``PYTHONPATH=tools/rank_probe`` and ``RECIPES_RANK_PROBE=DIR`` set, each Python
process that builds a fairseq ``Trainer`` writes, when it exits:

* ``DIR/rank{R}.pt``: its model's final state dict (fp32 copies), R its rank;
* ``DIR/rank{R}.json``: ``updates``: per update, the tokens and sentences this rank
  trained on and the step's seconds; ``optimizer_state_bytes``: the optimizer state this
  rank holds (Adam's moments: all of them, or its shard under ``--zero-sharding os``).

Nothing is imported until fairseq's trainer is (the scripts' helper calls stay light).
"""

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
import time

_DIR = os.environ.get("RECIPES_RANK_PROBE")
_trainers = []
_updates = []


def _patch(module):
    cls = module.Trainer
    init, train_step = cls.__init__, cls.train_step

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _trainers.append(self)

    def _train_step(self, samples, *args, **kwargs):
        real = [s for s in samples if s and "ntokens" in s]
        start = time.perf_counter()
        out = train_step(self, samples, *args, **kwargs)
        _updates.append({
            "ntokens": sum(int(s["ntokens"]) for s in real),
            "nsentences": sum(int(s["target"].size(0)) for s in real),
            "seconds": time.perf_counter() - start,
        })  # fmt: skip
        return out

    cls.__init__, cls.train_step = __init__, _train_step


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "fairseq.trainer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = patched
        return spec


def _state_bytes(trainer) -> int:
    import torch

    optimizer = trainer.optimizer.optimizer  # torch's, or fairscale's OSS around it
    optimizer = getattr(optimizer, "optim", optimizer)
    return sum(
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if torch.is_tensor(t) and t.dim() > 0
    )


def _dump():
    if not _trainers:
        return
    import torch

    rank = int(os.environ.get("RANK", "0"))
    trainer = _trainers[-1]
    model = trainer.model
    while hasattr(model, "module"):
        model = model.module
    state = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(_DIR, f"rank{rank}.pt"))
    with open(os.path.join(_DIR, f"rank{rank}.json"), "w") as f:
        json.dump(
            {"updates": _updates, "optimizer_state_bytes": _state_bytes(trainer)}, f
        )


if _DIR:
    sys.meta_path.insert(0, _Finder())
    atexit.register(_dump)
