"""Load fairseq checkpoints under torch's weights-only unpickler.

torch >= 2.6 calls ``torch.load(..., weights_only=True)`` by default. Stock fairseq 0.12
pickles its configuration (argparse.Namespace, omegaconf containers, config enums) and its
meters, so resuming, ``fairseq-generate`` and ``fairseq-validate`` fail with
``Unsupported global``; so does resuming on several ranks, where rank 0 broadcasts the
checkpoint to the others through ``torch.save`` / ``torch.load``. Rather than turning
weights-only loading off, we allowlist exactly the classes fairseq's own checkpoints (and
that broadcast) contain; any other global is still refused. Every way torch reports a
refusal (a blocked module, a global not allowlisted, an unsupported opcode, a legacy .tar
file) becomes one line naming the file and what was refused, never torch's advice to load
with ``weights_only=False``; an empty, truncated or foreign file becomes one line saying
what it looks like (:class:`DamagedCheckpointError`).
"""

import argparse
import collections
import functools
import logging
import pickle
import re
import typing

import torch

from ..errors import RecipesError
from .patching import wrap_once

logger = logging.getLogger(__name__)


class UnsafeCheckpointError(RecipesError, pickle.UnpicklingError):
    """A checkpoint pickles a global that is not a known fairseq checkpoint class."""


def fairseq_checkpoint_globals() -> list:
    """The globals a fairseq 0.12 checkpoint written by this project may contain."""
    from omegaconf import base, dictconfig, listconfig, nodes

    allowed = [
        argparse.Namespace,
        # omegaconf's container metadata references these types (object/key/element type)
        dict,
        list,
        int,
        str,
        float,
        bool,
        collections.OrderedDict,
        collections.defaultdict,
        typing.Any,
        dictconfig.DictConfig,
        listconfig.ListConfig,
        base.ContainerMetadata,
        base.Metadata,
        nodes.AnyNode,
        nodes.StringNode,
        nodes.IntegerNode,
        nodes.FloatNode,
        nodes.BooleanNode,
        nodes.EnumNode,
        nodes.ValueNode,
    ]
    for name in ("BytesNode", "PathNode", "InterpolationResultNode"):
        if hasattr(nodes, name):
            allowed.append(getattr(nodes, name))
    allowed.extend(_config_enums())
    allowed.extend(_numpy_scalars())
    # with several ranks, rank 0 reads the checkpoint and broadcasts it through torch.save /
    # torch.load (broadcast_object), its tensors replaced by these placeholders
    from fairseq.distributed.utils import _TensorPlaceholder

    allowed.append(_TensorPlaceholder)
    return allowed


def _config_enums() -> list:
    """fairseq's ChoiceEnum classes (stored in omegaconf EnumNodes of the config)."""
    from enum import Enum

    from fairseq.dataclass import constants

    return [
        v
        for v in vars(constants).values()
        if isinstance(v, type) and issubclass(v, Enum) and v is not Enum
    ]


def _numpy_scalars() -> list:
    """numpy scalars and dtypes that end up in meters and iterator state."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    dtypes = [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32")]
    return [scalar, np.dtype, *dtypes]


class DamagedCheckpointError(RecipesError):
    """A checkpoint file that cannot be read: empty, truncated, or not a torch file."""


# the text torch wraps around the weights-only unpickler's own reason, which suggests
# loading with weights_only=False: the one thing a user must not do with such a file
_WEIGHTS_ONLY = "Weights only load failed"
_CORE = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\n\n|$)", re.S)


def weights_only_reason(err: Exception):
    """The unpickler's reason for refusing, in one sentence, or None when ``err`` is not
    a weights-only refusal."""
    text = str(err)
    if _WEIGHTS_ONLY not in text and "weights_only" not in text:
        return None
    found = _CORE.search(text)
    if found and found.group(1).strip():
        core = found.group(1)
    else:  # the reason is the paragraph between torch's preamble and its pointer
        parts = [p.strip() for p in text.split("\n\n") if p.strip()]
        parts = [
            p
            for p in parts
            if not p.startswith((_WEIGHTS_ONLY, "Check the documentation", "Please file"))
        ]
        core = parts[0] if parts else "it is not a fairseq checkpoint"
    if "legacy .tar format" in text:
        core = (
            "it is in torch's legacy .tar format, which weights-only loading cannot read"
        )
    # keep the first sentence: the rest advises allowlisting or weights_only=False
    core = " ".join(core.split())
    core = re.split(r"(?<=\.)\s+(?=Please|Re-running|Check|Alternatively)", core)[0]
    return core.rstrip(".")


def refusal(path, err: Exception):
    """The one-line refusal for a weights-only failure, or None for any other error."""
    reason = weights_only_reason(err)
    if reason is None:
        return None
    found = re.search(r"GLOBAL ([\w.]+)", reason)
    if not found and reason.startswith("Unsupported operand") and not _is_pickle(path):
        return None  # bytes that are neither a torch zip nor a pickle: damaged
    what = (
        f"it pickles {found.group(1)}, which is not a fairseq checkpoint class"
        if found
        else f"the weights-only unpickler refuses it ({reason})"
    )
    return UnsafeCheckpointError(
        f"{path}: refused to load checkpoint: {what}; weights-only loading stays on "
        "(fairseq_recipes/compat/safe_checkpoints.py)"
    )


def _is_pickle(path) -> bool:
    """A torch zip file, or a pickle (protocol 2+ starts with the PROTO opcode)."""
    import zipfile

    try:
        with open(path, "rb") as f:
            first = f.read(1)
        return first == b"\x80" or zipfile.is_zipfile(path)
    except OSError:
        return False


def damage(path, err: Exception) -> DamagedCheckpointError:
    """What an unreadable checkpoint file looks like, in one line."""
    import os
    import zipfile

    try:
        size = os.path.getsize(path)
    except OSError:
        size = None
    if size == 0:
        looks = "the file is empty"
    elif size is not None and not zipfile.is_zipfile(path):
        looks = f"{size:,} bytes that are not a complete torch checkpoint (truncated?)"
    else:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        looks = f"{type(err).__name__}: {first[:160]}"
    return DamagedCheckpointError(f"{path}: not a readable fairseq checkpoint ({looks})")


def _patched_loader(original):
    @functools.wraps(original)
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        try:
            return original(path, *args, **kwargs)
        except (UnsafeCheckpointError, DamagedCheckpointError):
            raise
        except FileNotFoundError:
            raise DamagedCheckpointError(f"{path}: no such checkpoint file") from None
        except Exception as err:  # noqa: BLE001  (every way torch reports a bad file)
            raise (refusal(path, err) or damage(path, err)) from None

    return load_checkpoint_to_cpu


def install() -> None:
    """Allowlist fairseq's checkpoint classes and wrap the loader's error. Idempotent."""
    torch.serialization.add_safe_globals(fairseq_checkpoint_globals())
    from fairseq import checkpoint_utils

    wrap_once(
        checkpoint_utils, "load_checkpoint_to_cpu", _patched_loader, "safe_checkpoints"
    )
