"""Checkpoints that appear whole or not at all.

fairseq 0.12 writes the first checkpoint of a save (``checkpoint_X_Y.pt``) to
``NAME.tmp`` and renames it (without flushing it to disk first), then *copies* it onto the
others (``checkpoint_best.pt``, ``checkpoint_last.pt``) with a plain ``shutil.copyfile``
(``checkpoint_utils.save_checkpoint``). A process killed during that copy, which takes
seconds for a multi-GB checkpoint, leaves ``checkpoint_last.pt`` truncated, and the next
run dies on it although a complete checkpoint lies beside it.

Here every checkpoint file is written through :mod:`fairseq_recipes.atomic_files`: the
save is flushed before its rename, and the copies become a hard link (or a flushed copy)
under a temporary name renamed over the target. Only ``checkpoint_utils``'s view of
fairseq's ``PathManager`` changes; nothing else in fairseq is touched.
"""

import functools
import logging

from ..atomic_files import atomic_copy, atomic_write
from .patching import wrap_once

logger = logging.getLogger(__name__)


class _AtomicCheckpointFiles:
    """fairseq's ``PathManager`` as ``checkpoint_utils`` sees it, with atomic copies."""

    def __init__(self, path_manager):
        self._path_manager = path_manager

    def copy(self, src_path: str, dst_path: str, overwrite: bool = False) -> bool:
        atomic_copy(src_path, dst_path)
        return True

    def __getattr__(self, name):
        return getattr(self._path_manager, name)


def _atomic_persistent_save(original):
    @functools.wraps(original)
    def torch_persistent_save(obj, filename, async_write: bool = False):
        if async_write or "://" in str(filename):  # remote stores keep fairseq's path
            return original(obj, filename, async_write=async_write)
        import torch

        # fairseq retries a failed torch.save on the same half-written stream and logs a
        # traceback; here a failure leaves the old file and is one line (a full disk)
        with atomic_write(filename, "wb") as f:
            torch.save(obj, f)

    return torch_persistent_save


def install() -> None:
    """Route checkpoint_utils' saves and copies through atomic writes. Idempotent."""
    from fairseq import checkpoint_utils

    if not isinstance(checkpoint_utils.PathManager, _AtomicCheckpointFiles):
        checkpoint_utils.PathManager = _AtomicCheckpointFiles(
            checkpoint_utils.PathManager
        )
    wrap_once(
        checkpoint_utils, "torch_persistent_save", _atomic_persistent_save, "atomic_save"
    )
