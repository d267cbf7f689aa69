"""Load a model from a checkpoint without first drawing the random weights it replaces.

fairseq 0.12 builds a model the same way whether its weights are about to be trained or
about to be overwritten by a checkpoint: every ``nn.Linear`` draws ``kaiming_uniform_``,
every embedding and ``init_bert_params`` draws ``normal_``, and only then does
``load_state_dict`` replace all of it. At the paper's shapes (610M parameters in
``bart-12e12d``, two 250,002-row matrices) those draws were 29 of the 49 s that
``load_model_ensemble_and_task`` took here on 2 cores, and a fine-tuning evaluation loads
its model once per test language (mTOP: 8 times).

:func:`loaded` runs a build-and-load with the random fills of ``torch.Tensor``
(``normal_``, ``uniform_``, which ``torch.nn.init`` and fairseq's initialisers call)
writing NaN instead: a memset, not a random draw. A weight the load did not replace (a
``strict=False`` load missing a key, an upgrade hook that copies the model's own weight
into the state dict) is then still NaN; if any parameter, buffer or tensor attribute of
the model is, the build-and-load runs again the stock way, so what comes back always
equals what stock fairseq loads. (A checkpoint that holds NaN itself is loaded twice.)

One difference from stock is left: the global random stream after the load has not
advanced by the skipped draws, so a seeded ``fairseq-generate --sampling`` or a
fine-tuning run's dropout draws other (still reproducible) numbers than before.

The flag is per thread, so another thread's random fills are never touched.
"""

import functools
import logging
import math
import threading
from typing import Callable, Iterable, TypeVar

import torch

from .patching import wrap_once

logger = logging.getLogger(__name__)

_state = threading.local()
_FILLS = ("normal_", "uniform_")

T = TypeVar("T")


def skipping() -> bool:
    """True while this thread builds inside :func:`loaded`."""
    return getattr(_state, "depth", 0) > 0


def _patched(original):
    @functools.wraps(original)
    def fill(self, *args, **kwargs):
        if skipping() and self.is_floating_point():
            return self.fill_(math.nan)
        return original(self, *args, **kwargs)

    return fill


def install() -> None:
    """Route ``torch.Tensor``'s random fills through the per-thread flag. Idempotent."""
    for name in _FILLS:
        wrap_once(torch.Tensor, name, _patched, "load_without_init")


def _tensors(module: torch.nn.Module) -> Iterable[torch.Tensor]:
    for sub in module.modules():
        yield from sub.parameters(recurse=False)
        yield from sub.buffers(recurse=False)
        yield from (v for v in vars(sub).values() if isinstance(v, torch.Tensor))


def _nan(t: torch.Tensor) -> bool:
    # a finite sum has no NaN in it: one pass, no mask (an overflow to inf still looks)
    return not torch.isfinite(t.sum()) and bool(torch.isnan(t).any())


def has_nan(modules: Iterable[torch.nn.Module]) -> bool:
    """Whether a floating-point tensor of any of ``modules`` holds a NaN."""
    with torch.no_grad():
        return any(
            t.is_floating_point() and _nan(t) for m in modules for t in _tensors(m)
        )


def loaded(
    build_and_load: Callable[[], T],
    modules_of: Callable[[T], Iterable[torch.nn.Module]],
) -> T:
    """``build_and_load()``, its random initialisation skipped; stock if a weight was
    left unloaded (see the module's docstring)."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        result = build_and_load()
    finally:
        _state.depth -= 1
    if skipping() or not has_nan(modules_of(result)):
        return result  # an outer loaded() checks the whole model
    logger.info("a weight was not in the checkpoint: building the model again, stock")
    del result
    return build_and_load()
