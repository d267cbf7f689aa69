"""Freezing part of a model for some updates, with fairseq's once-built optimizer.

fairseq builds its optimizer once, from the parameters that have ``requires_grad`` at
that moment, and its fp16/bf16 wrappers keep fp32 master copies in flat buffers laid out
at that moment. So frozen parameters keep ``requires_grad=True`` and stay in the
optimizer from the start; what freezes them is:

* the model runs them without autograd (``torch.no_grad`` / ``detach``) while frozen, so
  they get no gradient and no activation memory is kept for them;
* :func:`protect_frozen` around ``optimizer.step()``: Adam skips a parameter whose
  gradient is None, but fairseq's ``FP16Optimizer`` (flat or not) and ``legacy_ddp``
  hand it a zero gradient instead, and Adam's decoupled weight decay then still moves
  it. The context restores the frozen values after the step, in the model and in the
  optimizer's fp32 master copy, so they stay bit-identical whatever the optimizer.

A model takes part by defining ``frozen_parameters()``: the parameters frozen at the
current update (empty when nothing is).
"""

import contextlib
from collections import defaultdict
from typing import Iterator, List, Tuple

import torch
import torch.nn.functional as F
from torch import nn


class FreezableEmbedding(nn.Embedding):
    """An ``nn.Embedding`` whose lookup is cut from autograd while ``frozen`` is set.

    Shared by the encoder and the decoder input of a two-stage model: while the encoder is
    frozen, the decoder's lookups must not train the shared matrix either.
    """

    frozen: bool = False

    def forward(self, tokens):
        weight = self.weight.detach() if self.frozen else self.weight
        return F.embedding(
            tokens,
            weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )


def unwrap(model):
    """The model inside fairseq's and torch's data-parallel wrappers."""
    while hasattr(model, "module") and not hasattr(model, "frozen_parameters"):
        model = model.module
    return model


def frozen_parameters(model) -> List[nn.Parameter]:
    model = unwrap(model)
    if not hasattr(model, "frozen_parameters"):
        return []
    return list(model.frozen_parameters())


def _master_copies(optimizer) -> Iterator[Tuple[nn.Parameter, torch.Tensor]]:
    """(model parameter, its fp32 master copy as a view) for fairseq's FP16Optimizer.

    Mirrors ``_FP16OptimizerMixin``'s layout: flat, one buffer per device holding the
    parameters that required grad at build time in order; or one fp32 tensor per
    parameter. Optimizers that update the model's parameters in place have none.
    """
    fp32 = getattr(optimizer, "fp32_params", None)
    fp16 = getattr(optimizer, "fp16_params", None)
    if fp32 is None or fp16 is None:
        return
    if isinstance(fp32, dict):  # flat buffers, keyed by device index
        per_device = defaultdict(list)
        for p in fp16:
            per_device[p.device.index].append(p)
        for device, buffer in fp32.items():
            offset = 0
            for p in per_device[device]:
                n = p.numel()
                yield p, buffer.data[offset : offset + n].view_as(p.data)
                offset += n
    else:
        for p, p32 in zip(fp16, fp32):
            yield p, p32.data


def protect_frozen(model, optimizer):
    """Run an optimizer step that leaves the model's frozen parameters bit-identical."""
    return protect_parameters(frozen_parameters(model), optimizer)


@contextlib.contextmanager
def protect_parameters(frozen, optimizer):
    """Run an optimizer step that leaves the parameters ``frozen`` bit-identical (recipe
    2's frozen encoder; what an update of recipe 3 does not train)."""
    # a plain optimizer skips parameters without a gradient: nothing to protect then
    at_risk = getattr(optimizer, "fp32_params", None) is not None or any(
        p.grad is not None for p in frozen
    )
    if not at_risk:
        yield
        return
    saved = [p.detach().clone() for p in frozen]
    yield
    by_id = {id(p): value for p, value in zip(frozen, saved)}
    with torch.no_grad():
        for p, value in zip(frozen, saved):
            p.copy_(value)
        for p, master in _master_copies(optimizer):
            if id(p) in by_id:
                master.copy_(by_id[id(p)])
