"""Resume from the newest readable checkpoint when ``checkpoint_last.pt`` is damaged.

fairseq 0.12 resumes from ``SAVE_DIR/checkpoint_last.pt`` whenever that file exists; an
empty or truncated one (a save killed by an older fairseq, a full disk, a bad copy) ends
the run with ``EOFError`` or a zip error, though complete checkpoints of the same run
(``checkpoint_E_U.pt``, ``checkpointE.pt``, ``checkpoint_best.pt``) may lie beside it.
This wraps ``Trainer.load_checkpoint``: a damaged ``checkpoint_last*.pt`` is reported and
the readable checkpoint of the folder furthest into training is loaded instead;
with none, the run stops with one line. Every rank makes the same choice from the same
files. A file that is readable but refused (weights-only loading) is never skipped. And
fairseq's "please ensure that the architectures match", raised when the checkpoint's
weights do not fit the model (another recipe wrote that folder), becomes one line naming
the first mismatch.
"""

import functools
import logging
import math
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Optional

from ..errors import RecipesError
from .patching import wrap_once

logger = logging.getLogger(__name__)


def damage(path: Path) -> Optional[str]:
    """Why ``path`` cannot be a complete torch checkpoint, or None when it looks whole
    (size, zip directory, and the CRC of every member: the whole file is read once)."""
    try:
        size = path.stat().st_size
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if size == 0:
        return "is empty"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not any(
                name.endswith("/data.pkl") or name == "data.pkl" for name in names
            ):
                return "is a zip file without torch's data.pkl"
            bad = archive.testzip()
    except zipfile.BadZipFile:
        return (
            f"is truncated or not a torch checkpoint ({size:,} bytes, no zip directory)"
        )
    except (OSError, EOFError, RuntimeError, ValueError) as err:
        return f"is damaged ({type(err).__name__}: {err})"
    if bad is not None:
        return f"is damaged (member {bad} fails its checksum)"
    return None


_NUMBERED = re.compile(r"^checkpoint(?:(\d+)|_(\d+)_(\d+))\.pt$")


def _progress(path: Path) -> tuple:
    """Sort key, latest training state first: ``checkpoint_E_U.pt`` by (E, U),
    ``checkpointE.pt`` (end of epoch E) after every update of E, then any other
    checkpoint (``checkpoint_best.pt``, a copy of one of them) by modification time."""
    found = _NUMBERED.match(path.name)
    if found:
        end_of_epoch, epoch, updates = found.groups()
        if end_of_epoch is not None:
            return (1, int(end_of_epoch), math.inf)
        return (1, int(epoch), int(updates))
    return (0, path.stat().st_mtime, 0)


def newest_readable(folder: Path, exclude: Path) -> Optional[Path]:
    """The complete ``checkpoint*.pt`` of ``folder`` furthest into training."""
    candidates = [
        p
        for p in folder.glob("checkpoint*.pt")
        if p.is_file() and p.resolve() != exclude.resolve()
    ]
    candidates.sort(key=_progress, reverse=True)
    for path in candidates:
        if damage(path) is None:
            return path
    return None


def resume_path(filename: str) -> str:
    """``filename``, or the checkpoint to resume from instead when it is a damaged
    ``checkpoint_last*.pt``."""
    path = Path(filename)
    if not (path.name.startswith("checkpoint_last") and path.is_file()):
        return filename
    problem = damage(path)
    if problem is None:
        return filename
    fallback = newest_readable(path.parent, exclude=path)
    if fallback is None:
        raise RecipesError(
            f"{path}: {problem}, and {path.parent} holds no other readable checkpoint "
            "to resume from (move it away to start the run afresh)"
        )
    message = (
        f"{path}: {problem}; resuming from {fallback.name}, the latest readable "
        f"checkpoint in {path.parent}"
    )
    logger.warning(message)
    if not logger.isEnabledFor(logging.WARNING):
        print(f"warning: {message}", file=sys.stderr)
    return str(fallback)


def _mismatch(filename, err: Exception) -> RecipesError:
    """fairseq's "ensure that the architectures match" with what did not match."""
    cause = err.__context__ or err
    detail = " ".join(str(cause).split())
    detail = detail.replace("Error(s) in loading state_dict for ", "")[:200]
    return RecipesError(
        f"{filename}: its weights do not fit this run's model ({detail}); another "
        "--arch, width or task wrote it: resume it with the command that wrote it, or "
        "use another SAVE_DIR"
    )


def _patched(original):
    @functools.wraps(original)
    def load_checkpoint(self, filename, *args, **kwargs):
        filename = resume_path(os.fspath(filename))
        try:
            return original(self, filename, *args, **kwargs)
        except RecipesError:
            raise
        except Exception as err:
            if "Cannot load model parameters from checkpoint" in str(err):
                raise _mismatch(filename, err) from None
            raise

    return load_checkpoint


def install() -> None:
    """Wrap ``Trainer.load_checkpoint``. Idempotent."""
    from fairseq.trainer import Trainer

    wrap_once(Trainer, "load_checkpoint", _patched, "resume_fallback")
