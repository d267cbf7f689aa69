"""Load a model from a checkpoint without first making the weights it replaces.

fairseq 0.12 builds a model the same way whether its weights are about to be trained or
about to be overwritten by a checkpoint: it allocates every weight, draws it
(``kaiming_uniform_``, ``normal_``, ``init_bert_params``), and only then does
``load_state_dict`` copy the checkpoint over all of it. At the paper's shapes (610M
parameters in ``bart-12e12d``, two 250,002-row matrices) that was 36 of the 40 s that
``load_model_ensemble_and_task`` took here on 2 cores (the draws, then the first touch
of 2.4 GB of fresh pages, then the copy), and a fine-tuning evaluation loads its model
once per test language (mTOP: 8 times).

Inside :func:`loaded` the model is built on torch's ``meta`` device (:func:`building`;
``fairseq.models.build_model`` is wrapped to build there): shapes and dtypes, no memory,
no random draw. ``nn.Module.load_state_dict`` then assigns the checkpoint's tensors
(``assign=True``) instead of copying them, after casting any whose dtype differs from the
model's (an fp16 checkpoint into an fp32 model, as stock's copy casts). Two things stock
gets from its copy are restored: weights tied in the model (one parameter under two
names) are tied again, and weights the model keeps apart never share memory, even where
the checkpoint stored them as one tensor. A tensor the load did not replace (a
non-persistent buffer, a tensor attribute computed at build, an upgrade hook that copies
the model's own weight into the state dict) is still on ``meta`` afterwards; if any
parameter, buffer or tensor attribute of the model is, or if the build on ``meta``
raised, the build-and-load runs again the stock way, so what comes back always equals
what stock fairseq loads.

One difference from stock is left: the global random stream after the load has not
advanced by the skipped draws, so a seeded ``fairseq-generate --sampling`` or a
fine-tuning run's dropout draws other (still reproducible) numbers than before.

The flag and torch's device context are per thread, so another thread's builds are
never touched.
"""

import contextlib
import functools
import logging
import threading
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, TypeVar

import torch
from torch.overrides import TorchFunctionMode

from ..errors import RecipesError
from .patching import wrap_once

logger = logging.getLogger(__name__)

_state = threading.local()

T = TypeVar("T")


def skipping() -> bool:
    """True while this thread builds and loads inside :func:`loaded`."""
    return getattr(_state, "depth", 0) > 0


class _MetaStaysMeta(TorchFunctionMode):
    """``t.cpu()`` of a meta tensor is that tensor: fairseq's ``init_bert_params`` draws
    on a CPU copy (``data.copy_(data.cpu().normal_(...))``), which meta cannot give."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.Tensor.cpu and args[0].is_meta:
            return args[0]
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def building():
    """Tensors made in here go to the ``meta`` device while :func:`skipping`."""
    if not skipping():
        yield
        return
    with torch.device("meta"), _MetaStaysMeta():
        yield


def _entries(modules: Iterable[torch.nn.Module]):
    """(slots, name, tensor) of every parameter, buffer and tensor attribute."""
    for module in modules:
        for sub in module.modules():
            for slots in (sub._parameters, sub._buffers, vars(sub)):
                for name, t in list(slots.items()):
                    if isinstance(t, torch.Tensor):
                        yield slots, name, t


def _fill_empty(modules: Iterable[torch.nn.Module]) -> None:
    """An empty tensor made at build (``_future_mask``, a cache) holds nothing to load:
    the CPU tensor stock would have made."""
    for slots, name, t in _entries(modules):
        if t.is_meta and not t.numel():
            empty = torch.empty(t.shape, dtype=t.dtype)
            if isinstance(t, torch.nn.Parameter):
                empty = torch.nn.Parameter(empty, t.requires_grad)
            slots[name] = empty


def has_meta(modules: Iterable[torch.nn.Module]) -> bool:
    """Whether a parameter, buffer or tensor attribute of ``modules`` has no data."""
    return any(t.is_meta for _, _, t in _entries(modules))


def _slots(module: torch.nn.Module) -> Dict[int, List[str]]:
    """The state's tensors by identity: the names of each (a tied weight has several)."""
    names: Dict[int, List[str]] = {}
    for kind in (module.named_parameters, module.named_buffers):
        for name, tensor in kind(remove_duplicate=False):
            names.setdefault(id(tensor), []).append(name)
    return names


def _get(module, name):
    owner, _, leaf = name.rpartition(".")
    return getattr(module.get_submodule(owner), leaf)


def _put(module, name, tensor):
    owner, _, leaf = name.rpartition(".")
    sub = module.get_submodule(owner)
    slots = sub._parameters if leaf in sub._parameters else sub._buffers
    slots[leaf] = tensor


def _own(tensor: torch.Tensor) -> torch.Tensor:
    data = tensor.detach().clone(memory_format=torch.contiguous_format)
    if isinstance(tensor, torch.nn.Parameter):
        return torch.nn.Parameter(data, requires_grad=tensor.requires_grad)
    return data


def _assigned(original, module, state_dict, strict):
    slots = _slots(module)
    targets = module.state_dict(keep_vars=True)
    cast = OrderedDict()
    for key, value in state_dict.items():
        target = targets.get(key)
        if (
            isinstance(value, torch.Tensor)
            and isinstance(target, torch.Tensor)
            and value.dtype != target.dtype
        ):
            value = value.to(target.dtype)  # stock's copy_ casts the same way
        cast[key] = value
    if hasattr(state_dict, "_metadata"):
        cast._metadata = state_dict._metadata
    result = original(module, cast, strict, assign=True)
    storages = set()
    for names in slots.values():
        # stock copies every name of a tied weight into one tensor: the last one wins
        tensor = _get(module, names[-1])
        if tensor.is_meta:
            continue  # not loaded: loaded() builds again, stock
        if tensor.numel() and (
            tensor.untyped_storage().data_ptr() in storages or not tensor.is_contiguous()
        ):
            tensor = _own(tensor)  # stock keeps apart what the model keeps apart
        if tensor.numel():
            storages.add(tensor.untyped_storage().data_ptr())
        for name in names:
            _put(module, name, tensor)
    return result


def _patched_load_state_dict(original):
    @functools.wraps(original)
    def load_state_dict(self, state_dict, strict=True, assign=False):
        if skipping() and not assign and has_meta([self]):
            return _assigned(original, self, state_dict, strict)
        return original(self, state_dict, strict, assign)

    return load_state_dict


def _patched_build_model(original):
    @functools.wraps(original)
    def build_model(*args, **kwargs):
        with building():
            return original(*args, **kwargs)

    return build_model


def install() -> None:
    """Wrap ``nn.Module.load_state_dict`` and fairseq's ``build_model``. Idempotent."""
    from fairseq import models

    wrap_once(torch.nn.Module, "load_state_dict", _patched_load_state_dict, "assign")
    wrap_once(models, "build_model", _patched_build_model, "meta_build")


def loaded(
    build_and_load: Callable[[], T],
    modules_of: Callable[[T], Iterable[torch.nn.Module]],
) -> T:
    """``build_and_load()`` with its model built on ``meta`` and the checkpoint's tensors
    assigned; stock if a tensor was left unloaded (see the module's docstring)."""
    if skipping():
        return build_and_load()  # the outer loaded() checks the whole model
    _state.depth = 1
    try:
        result = build_and_load()
    except RecipesError:
        raise  # bad input: stock would say the same
    except Exception as err:  # noqa: BLE001  (the stock build gives stock's outcome)
        logger.info("building on the meta device failed (%s): building again, stock", err)
        result = None
    finally:
        _state.depth = 0
    if result is not None:
        _fill_empty(modules_of(result))
        if not has_meta(modules_of(result)):
            return result
    logger.info("a tensor was not in the checkpoint: building the model again, stock")
    del result
    return build_and_load()


def built_and_loaded(
    build: Callable[[], torch.nn.Module], load: Callable[[torch.nn.Module], None]
) -> torch.nn.Module:
    """A model that ``build()`` makes on ``meta`` and ``load(model)`` fills from a
    checkpoint (through ``load_state_dict``): no weight is drawn first; stock if any
    tensor is left unloaded (:func:`loaded`)."""

    def build_and_load():
        with building():
            model = build()
        load(model)
        return model

    return loaded(build_and_load, lambda model: [model])
