"""One training run per save directory.

fairseq 0.12 lets any number of ``fairseq-train`` processes share a ``--save-dir``: a
second run (the same command started again while the first still runs, e.g. after its
parent was killed) resumes from the first one's ``checkpoint_last.pt`` and the two then
overwrite each other's checkpoints. Here the master process takes an exclusive lock on
``SAVE_DIR/.train.lock`` where fairseq checks the directory
(``checkpoint_utils.verify_checkpoint_directory``, before any model is built) and holds it
until the run ends; a second run stops with one line naming the holder's pid. The lock is
``flock``'s: the kernel releases it when the holder dies, however it dies, so a killed run
never leaves a stale lock. A folder fairseq cannot write is one line too.
"""

import fcntl
import functools
import os
from pathlib import Path

from ..atomic_files import describe_os_error
from ..errors import RecipesError
from .patching import wrap_once

LOCK_NAME = ".train.lock"
_held = {}  # resolved save_dir -> open lock file


class SaveDirBusyError(RecipesError):
    """Another training run holds the save directory."""


def acquire(save_dir) -> None:
    """Take the lock of ``save_dir`` for this process (again: no-op)."""
    folder = Path(save_dir).resolve()
    if folder in _held:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / LOCK_NAME, "a+")
    except OSError as err:
        raise RecipesError(describe_os_error(folder, err)) from None
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise SaveDirBusyError(
            f"{folder}: another training run (pid {holder}) is using this save "
            f"directory ({LOCK_NAME}); wait for it to end, stop it, or use another "
            "SAVE_DIR"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    _held[folder] = lock


def release(save_dir=None) -> None:
    """Release the lock of ``save_dir`` (every lock this process holds without one)."""
    folders = list(_held) if save_dir is None else [Path(save_dir).resolve()]
    for folder in folders:
        lock = _held.pop(folder, None)
        if lock is not None:
            lock.close()  # closing the file releases the flock


def _patched(original):
    @functools.wraps(original)
    def verify_checkpoint_directory(save_dir: str) -> None:
        acquire(save_dir)
        try:
            original(save_dir)
        except OSError as err:
            release(save_dir)
            raise RecipesError(describe_os_error(save_dir, err)) from None

    return verify_checkpoint_directory


def install() -> None:
    """Lock the save directory where fairseq-train checks it. Idempotent."""
    from fairseq import checkpoint_utils

    wrap_once(checkpoint_utils, "verify_checkpoint_directory", _patched, "save_dir_lock")
