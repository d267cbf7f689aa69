"""Observe fairseq processes, whoever starts them (a train script, torchrun, a CLI).

With ``PYTHONPATH=tools/probes`` set, two probes, each on when its variable is set.

``RECIPES_RANK_PROBE=DIR`` (the distributed tests, ``benchmarks/distributed.py``): each
Python process that builds a fairseq ``Trainer`` writes, when it exits:

* ``DIR/rank{R}.pt``: its model's final state dict (fp32 copies), R its rank;
* ``DIR/rank{R}.json``: ``updates``: per update, the tokens and sentences this rank
  trained on and the step's seconds; ``optimizer_state_bytes``: the optimizer state this
  rank holds (Adam's moments: all of them, or its shard under ``--zero-sharding os``).

``RECIPES_GENERATE_PROBE=FILE`` (the export tests): every hypothesis that fairseq's
``SequenceGenerator`` returns, as a JSON line ``{"id", "rank", "tokens", "score"}`` (sample
id, rank in the n-best list, token ids with the final ``</s>``, the length-normalized
log-probability fairseq ranks by): the exact ids of a
``fairseq-generate`` run, which its text output (bos and pad dropped, pieces joined,
task post-processing) does not give back.

Nothing is imported until fairseq's module is (the scripts' helper calls stay light).
"""

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
import time

_DIR = os.environ.get("RECIPES_RANK_PROBE")
_GENERATED = os.environ.get("RECIPES_GENERATE_PROBE")
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
        _updates.append(
            {
                "ntokens": sum(int(s["ntokens"]) for s in real),
                "nsentences": sum(int(s["target"].size(0)) for s in real),
                "seconds": time.perf_counter() - start,
            }
        )
        return out

    cls.__init__, cls.train_step = __init__, _train_step


class _Finder(importlib.abc.MetaPathFinder):
    """Runs ``patch(module)`` right after the module ``name`` is first imported."""

    def __init__(self, name, patch):
        self.name, self.patch = name, patch

    def find_spec(self, name, path, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            self.patch(module)

        spec.loader.exec_module = patched
        return spec


def _patch_generator(module):
    cls = module.SequenceGenerator
    generate = cls.generate

    def _generate(self, models, sample, *args, **kwargs):
        hypos = generate(self, models, sample, *args, **kwargs)
        with open(_GENERATED, "a", encoding="utf-8") as f:
            for sample_id, nbest in zip(sample["id"].tolist(), hypos):
                for rank, hypo in enumerate(nbest):
                    row = {
                        "id": sample_id,
                        "rank": rank,
                        "tokens": hypo["tokens"].tolist(),
                        "score": float(hypo["score"]),
                    }
                    f.write(json.dumps(row) + "\n")
        return hypos

    cls.generate = _generate


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
    sys.meta_path.insert(0, _Finder("fairseq.trainer", _patch))
    atexit.register(_dump)
if _GENERATED:
    sys.meta_path.insert(0, _Finder("fairseq.sequence_generator", _patch_generator))
