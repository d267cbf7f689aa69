"""Load fairseq checkpoints under torch's weights-only unpickler.

torch >= 2.6 calls ``torch.load(..., weights_only=True)`` by default. Stock fairseq 0.12
pickles its configuration (argparse.Namespace, omegaconf containers, config enums) and its
meters, so resuming, ``fairseq-generate`` and ``fairseq-validate`` fail with
``Unsupported global``; so does resuming on several ranks, where rank 0 broadcasts the
checkpoint to the others through ``torch.save`` / ``torch.load``. Rather than turning
weights-only loading off, we allowlist exactly the classes fairseq's own checkpoints (and
that broadcast) contain; any other global is still refused, and the
refusal is re-raised as a one-line error naming the file and the offending global.
"""

import argparse
import collections
import functools
import logging
import pickle
import re
import typing

import torch

logger = logging.getLogger(__name__)


class UnsafeCheckpointError(pickle.UnpicklingError):
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


_UNSUPPORTED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def _explain(path, err: Exception):
    """The one-line refusal for a disallowed global, or None for any other failure (a
    truncated or non-torch file), which keeps its own error."""
    found = _UNSUPPORTED.search(str(err))
    if not found:
        return None
    return UnsafeCheckpointError(
        f"{path}: refused to load checkpoint: it pickles {found.group(1)}, which is not "
        "a fairseq checkpoint class (weights-only loading; see "
        "fairseq_recipes/compat/safe_checkpoints.py)"
    )


def _patched_loader(original):
    @functools.wraps(original)
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        try:
            return original(path, *args, **kwargs)
        except pickle.UnpicklingError as err:
            refusal = (
                None if isinstance(err, UnsafeCheckpointError) else _explain(path, err)
            )
            if refusal is None:
                raise
            raise refusal from None

    load_checkpoint_to_cpu._fairseq_recipes_patched = True
    return load_checkpoint_to_cpu


def install() -> None:
    """Allowlist fairseq's checkpoint classes and wrap the loader's error. Idempotent."""
    torch.serialization.add_safe_globals(fairseq_checkpoint_globals())
    from fairseq import checkpoint_utils

    loader = checkpoint_utils.load_checkpoint_to_cpu
    if not getattr(loader, "_fairseq_recipes_patched", False):
        checkpoint_utils.load_checkpoint_to_cpu = _patched_loader(loader)
