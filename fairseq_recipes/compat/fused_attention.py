"""Every fairseq attention that returns no weights on torch's fused attention kernel.

fairseq 0.12's ``MultiheadAttention`` hands attention to torch
(``F.multi_head_attention_forward``) only with no incremental state and keys that are not
static. Every cross-attention (``static_kv``) and every step of incremental decoding
takes its hand-written path instead: ``bmm``, a float32 softmax, ``bmm``, which
materializes the attention matrix (and keeps it for the backward pass). Where it does hand
over, torch merges the key padding mask into the attention mask as one additive mask per
head. This replaces ``MultiheadAttention.forward`` with one that gives every call that
needs no attention weights to ``F.scaled_dot_product_attention``: self, causal, cross and
incremental attention, with dropout in training, the key padding mask as one boolean row
per sentence, the decoder's causal mask as ``is_causal`` (``buffered_future_mask`` marks
the masks it builds), the cached keys and values of incremental decoding (same cache
layout as fairseq's, so ``reorder_incremental_state`` and the stock path read it), and
BART's "beamable" cross-attention (one copy of the keys per sentence for all its beams).

Kept on fairseq's own path: calls that need the weights (``need_weights``,
``need_head_weights``, ``before_softmax``) and what this does not implement (``bias_k``,
``add_zero_attn``, xformers, ONNX, XLA, pruned heads, a subclass's
``apply_sparse_mask``, an attention mask that is not one 2-D float mask).

Which weights are needed: fairseq's decoder asks its last layer's cross-attention for
weights on every call (the alignment it returns as ``extra["attn"]``), and in eval mode
every layer for its own, which the decoder then drops. The wrapped
``extract_features_scriptable`` asks only the alignment layer, and only when an alignment
is wanted: an explicit ``alignment_layer`` (``transformer_align`` and its alignment
criterion pass one), or eval mode with the layers' ``need_attn`` set (its default;
``fairseq-generate`` clears it unless ``--print-alignment``). A training forward of
``bart``, ``roberta`` or the plugin's models returns ``extra["attn"] == [None]``.

``FAIRSEQ_RECIPES_ATTENTION=stock`` leaves fairseq's classes as they are (TorchScript,
which cannot compile the patched methods, needs it); :func:`stock_attention` runs
fairseq's own path inside a block of a process that has the fix: the reference the tests
and ``benchmarks/attention_kernels.py`` compare with.
"""

import contextlib
import functools
import os
from typing import Optional

import torch
import torch.nn.functional as F

from ..errors import RecipesError
from .patching import wrap_once

#: environment variable choosing the attention path, and its values
ENV = "FAIRSEQ_RECIPES_ATTENTION"
MODES = ("fused", "stock")
#: the attribute ``buffered_future_mask`` sets on the causal masks it returns
CAUSAL = "_fairseq_recipes_causal"


def _mode_from_environment() -> str:
    mode = os.environ.get(ENV, "fused")
    if mode not in MODES:
        raise RecipesError(f"{ENV}={mode}: use one of {', '.join(MODES)}")
    return mode


_state = {"mode": None}


def fused() -> bool:
    """Whether attention takes the fused path (``FAIRSEQ_RECIPES_ATTENTION``)."""
    if _state["mode"] is None:
        _state["mode"] = _mode_from_environment()
    return _state["mode"] == "fused"


@contextlib.contextmanager
def stock_attention(stock: bool = True):
    """Run fairseq's own attention path inside the block (``stock=False``: the fused
    one, which needs the fix installed)."""
    if not stock and not installed():
        raise RuntimeError(f"the fused attention is not installed ({ENV}=stock)")
    saved = _state["mode"]
    _state["mode"] = "stock" if stock else "fused"
    try:
        yield
    finally:
        _state["mode"] = saved


def _heads(x: torch.Tensor, num_heads: int, head_dim: int) -> torch.Tensor:
    """Time x Batch x Channel -> Batch x Heads x Time x head_dim (a view)."""
    return x.view(x.size(0), -1, num_heads, head_dim).permute(1, 2, 0, 3)


def _fusable(mha, attn_mask, need_weights, before_softmax, need_head_weights, query):
    from fairseq.modules.multihead_attention import MultiheadAttention

    return not (
        need_weights
        or need_head_weights
        or before_softmax
        or not fused()
        or mha.bias_k is not None
        or mha.add_zero_attn
        or mha.use_xformers
        or mha.onnx_trace
        or mha.skip_embed_dim_check
        or query.device.type == "xla"
        or type(mha).apply_sparse_mask is not MultiheadAttention.apply_sparse_mask
        or torch.jit.is_scripting()
        or (
            attn_mask is not None
            and (attn_mask.dim() != 2 or not attn_mask.is_floating_point())
        )
    )


def _sdpa_mask(attn_mask, key_padding_mask, tgt_len, src_len, dtype):
    """(mask for F.scaled_dot_product_attention, is_causal) from fairseq's masks: an
    additive ``tgt_len x src_len`` float mask and a ``batch x src_len`` padding mask
    (non-zero: a pad)."""
    causal = (
        attn_mask is not None
        and getattr(attn_mask, CAUSAL, False)
        and tgt_len == src_len
        and attn_mask.shape == (tgt_len, src_len)
    )
    if key_padding_mask is None:
        if causal:
            return None, True
        return (None if attn_mask is None else attn_mask.to(dtype)), False
    pads = key_padding_mask.to(torch.bool)[:, None, None, :]  # B x 1 x 1 x S
    if attn_mask is None:
        return ~pads, False
    return attn_mask.to(dtype).masked_fill(pads, float("-inf")), False


def forward(
    self,
    query,
    key,
    value,
    key_padding_mask=None,
    incremental_state=None,
    need_weights: bool = True,
    static_kv: bool = False,
    attn_mask: Optional[torch.Tensor] = None,
    before_softmax: bool = False,
    need_head_weights: bool = False,
):
    """``MultiheadAttention.forward`` (same arguments, same results) on the fused kernel
    where no weights are needed; fairseq's own otherwise."""
    if not _fusable(
        self, attn_mask, need_weights, before_softmax, need_head_weights, query
    ):
        return _stock_forward(
            self,
            query,
            key,
            value,
            key_padding_mask,
            incremental_state,
            need_weights,
            static_kv,
            attn_mask,
            before_softmax,
            need_head_weights,
        )
    from fairseq.modules.multihead_attention import MultiheadAttention

    tgt_len, bsz, embed_dim = query.size()
    assert embed_dim == self.embed_dim, f"query dim {embed_dim} != {self.embed_dim}"
    saved_state = None
    if incremental_state is not None:
        saved_state = self._get_input_buffer(incremental_state)
        if static_kv and "prev_key" in saved_state:
            key = value = None  # cross-attention: keys and values cached at step 0
    if self.self_attention:
        key = value = query
    elif self.encoder_decoder_attention and key is not None:
        if self.beam_size > 1 and key.size(1) == bsz:
            # beamable: the beams of a sentence share one copy of its keys
            key = key.view(key.size(0), -1, self.beam_size, key.size(2))[:, :, 0]
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.view(
                    -1, self.beam_size, key_padding_mask.size(1)
                )[:, 0]
        value = key  # fairseq's cross-attention projects the keys for both
    q = self.q_proj(query)
    k = v = None
    if key is not None:
        k = _heads(self.k_proj(key), self.num_heads, self.head_dim)
        v = _heads(self.v_proj(value), self.num_heads, self.head_dim)

    if saved_state is not None:
        # fairseq's cache layout: Batch x Heads x Time x head_dim
        if "prev_key" in saved_state:
            prev_key, prev_value = saved_state["prev_key"], saved_state["prev_value"]
            if static_kv:
                k, v = prev_key, prev_value
            else:
                k = torch.cat([prev_key, k], dim=2)
                v = torch.cat([prev_value, v], dim=2)
        key_padding_mask = MultiheadAttention._append_prev_key_padding_mask(
            key_padding_mask=key_padding_mask,
            prev_key_padding_mask=saved_state.get("prev_key_padding_mask"),
            batch_size=k.size(0),
            src_len=k.size(2),
            static_kv=static_kv,
        )
        saved_state["prev_key"], saved_state["prev_value"] = k, v
        saved_state["prev_key_padding_mask"] = key_padding_mask
        self._set_input_buffer(incremental_state, saved_state)
    if key_padding_mask is not None and key_padding_mask.dim() == 0:
        key_padding_mask = None  # fairseq's stand-in for None in scripted code

    kv_bsz, src_len = k.size(0), k.size(2)
    beams = bsz // kv_bsz  # > 1: beamable cross-attention, the beams as extra queries
    if beams > 1:
        q = q.view(tgt_len, kv_bsz, beams, self.num_heads, self.head_dim)
        q = q.permute(1, 3, 2, 0, 4).reshape(kv_bsz, self.num_heads, -1, self.head_dim)
        if attn_mask is not None:
            attn_mask = attn_mask.repeat(beams, 1)
    else:
        q = _heads(q, self.num_heads, self.head_dim)
    mask, is_causal = _sdpa_mask(attn_mask, key_padding_mask, tgt_len, src_len, q.dtype)
    dropout = self.dropout_module
    train = self.training or dropout.apply_during_inference
    attn = F.scaled_dot_product_attention(
        q,
        k,
        v,
        attn_mask=mask,
        dropout_p=dropout.p if train else 0.0,
        is_causal=is_causal,
        scale=self.scaling,
    )
    if beams > 1:
        attn = attn.view(kv_bsz, self.num_heads, beams, tgt_len, self.head_dim)
        attn = attn.permute(3, 0, 2, 1, 4)
    else:
        attn = attn.permute(2, 0, 1, 3)
    return self.out_proj(attn.reshape(tgt_len, bsz, self.embed_dim)), None


_stock_forward = None  # fairseq's MultiheadAttention.forward, set by install()


def _marking_causal(original):
    @functools.wraps(original)
    def buffered_future_mask(self, tensor):
        mask = original(self, tensor)
        setattr(mask, CAUSAL, True)
        return mask

    return buffered_future_mask


@contextlib.contextmanager
def _weights_only_where_asked(layers):
    """Decoder layers that compute attention weights only when the decoder asks (its
    alignment layer): in eval mode each layer would ask for its own (``need_attn``),
    which the decoder drops."""
    saved = [getattr(layer, "need_attn", None) for layer in layers]
    for layer, flag in zip(layers, saved):
        if flag is not None:
            layer.need_attn = False
    try:
        yield
    finally:
        for layer, flag in zip(layers, saved):
            if flag is not None:
                layer.need_attn = flag


def _alignment_when_wanted(original):
    @functools.wraps(original)
    def extract_features_scriptable(
        self,
        prev_output_tokens,
        encoder_out,
        incremental_state=None,
        full_context_alignment=False,
        alignment_layer=None,
        alignment_heads=None,
    ):
        if not fused():
            return original(
                self,
                prev_output_tokens,
                encoder_out,
                incremental_state,
                full_context_alignment,
                alignment_layer,
                alignment_heads,
            )
        if alignment_layer is None:
            last = self.layers[self.num_layers - 1] if self.num_layers else None
            wanted = not self.training and getattr(last, "need_attn", False)
            # -1: no layer's index, so no layer is asked and extra["attn"] is [None]
            alignment_layer = self.num_layers - 1 if wanted else -1
        with _weights_only_where_asked(self.layers):
            return original(
                self,
                prev_output_tokens,
                encoder_out,
                incremental_state,
                full_context_alignment,
                alignment_layer,
                alignment_heads,
            )

    return extract_features_scriptable


def installed() -> bool:
    from fairseq.modules.multihead_attention import MultiheadAttention

    return MultiheadAttention.forward is forward


def install() -> None:
    """Patch fairseq's attention, decoder mask and alignment request, unless
    FAIRSEQ_RECIPES_ATTENTION=stock. Idempotent."""
    global _stock_forward
    from fairseq.models.transformer.transformer_decoder import TransformerDecoderBase
    from fairseq.modules.multihead_attention import MultiheadAttention

    if not fused():  # a bad FAIRSEQ_RECIPES_ATTENTION fails here
        return
    if not installed():
        _stock_forward = MultiheadAttention.forward
        MultiheadAttention.forward = forward
    decoder = TransformerDecoderBase
    wrap_once(decoder, "buffered_future_mask", _marking_causal, "causal_mark")
    wrap_once(
        decoder,
        "extract_features_scriptable",
        _alignment_when_wanted,
        "alignment_when_wanted",
    )
