"""Let a model being built know whether fairseq is restoring it from a checkpoint.

fairseq 0.12 builds a model the same way for a new training run and for
``fairseq-generate``/``fairseq-validate``/the hub (``load_model_ensemble_and_task``); the
model's ``build_model`` is not told which (``from_checkpoint`` stops at the task). A model
that initializes itself from another checkpoint (recipe 2's warm start) must do so only
for a new run: a trained two-stage checkpoint has to load without the MLM checkpoint it
started from. This wraps fairseq's loader so that :func:`loading_checkpoint` is true
while it builds models, whichever task does the building, and so that a strict load (the
default) builds them without the random initialisation the checkpoint replaces
(:mod:`.load_without_init`).
"""

import functools
import os
import threading

from ..errors import RecipesError
from . import load_without_init
from .patching import wrap_once

_state = threading.local()


def loading_checkpoint() -> bool:
    """True while fairseq's ``load_model_ensemble_and_task`` is running."""
    return getattr(_state, "depth", 0) > 0


def _patched(original):
    @functools.wraps(original)
    def load_model_ensemble_and_task(*args, **kwargs):
        filenames = args[0] if args else kwargs.get("filenames", [])
        for filename in filenames or []:
            if not os.path.isfile(filename) and "://" not in str(filename):
                # fairseq's IOError("Model file not found") ends in a traceback
                raise RecipesError(f"{filename}: no such checkpoint file (--path)")
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            strict = args[3] if len(args) > 3 else kwargs.get("strict", True)
            given = args[6] if len(args) > 6 else kwargs.get("state")
            # keys may be missing, or a second try would see the state dict the first
            # one's upgrade hooks changed: the stock initialisation
            if not strict or given is not None:
                return original(*args, **kwargs)
            return load_without_init.loaded(
                lambda: original(*args, **kwargs), lambda result: result[0]
            )
        finally:
            _state.depth -= 1

    return load_model_ensemble_and_task


def install() -> None:
    """Wrap fairseq's ensemble loader. Idempotent."""
    from fairseq import checkpoint_utils

    wrap_once(checkpoint_utils, "load_model_ensemble_and_task", _patched, "ensemble_path")
