"""Attention fusion: each decoder layer reads its own mixture of all encoder layers.

After Cao et al. 2022 ("Attention Fusion: a light yet efficient late fusion mechanism for
task adaptation in NLU"): every decoder layer ``l`` has one learned query vector ``q_l``.
For each source token ``t`` it scores the representations ``h_{k,t}`` of the encoder
layers ``k = 1..K`` as ``q_l . h_{k,t} / sqrt(d)``; a softmax over ``k`` gives weights
that sum to 1 per token, and ``m_{l,t} = sum_k w_{l,k,t} h_{k,t}`` is the memory that
layer's cross-attention reads instead of the last encoder layer alone. ``d`` parameters
per decoder layer in all.

The encoder states are taken after the encoder's final layer norm (PreLayerNorm stacks
leave intermediate outputs un-normalized, at very different scales), so the last one is
exactly the standard encoder output. Queries start at zero: a uniform mixture.

Incremental decoding: cross-attention caches its keys and values at the first step, so
memories are computed only when that cache is empty; beam search reorders the stacked
states with the rest of the encoder output (see ``TwoStageEncoder``).
"""

import math

import torch
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase
from torch import nn


class LayerFusion(nn.Module):
    """One learned query per decoder layer over the stacked encoder layer states.

    States are laid out ``T x B x K x C`` (tokens, sentences, encoder layers, channels) so
    that both steps are batched matrix products over the tokens, and every layer's memory
    is a ``T x B x C`` view of one result, without copies.
    """

    def __init__(self, decoder_layers: int, embed_dim: int):
        super().__init__()
        self.queries = nn.Parameter(torch.zeros(decoder_layers, embed_dim))
        self.scale = 1.0 / math.sqrt(embed_dim)

    def weights(self, states: torch.Tensor) -> torch.Tensor:
        """Softmax over encoder layers: T x B x K x L from states T x B x K x C."""
        scores = torch.matmul(states, self.queries.t().to(states.dtype))
        return torch.softmax(scores.float() * self.scale, dim=2).to(states.dtype)

    def forward(self, states: torch.Tensor):
        """One memory per decoder layer, each T x B x C, from states T x B x K x C."""
        mixed = torch.matmul(
            self.weights(states).transpose(2, 3), states
        )  # T x B x L x C
        return mixed.unbind(2)


class FusedMemoryDecoderLayer(TransformerDecoderLayerBase):
    """fairseq's decoder layer, reading ``fused_memory`` instead of the encoder output
    when the decoder has set one for the current call (the same weights and keys)."""

    fused_memory = None

    def forward(self, x, encoder_out=None, *args, **kwargs):
        if self.fused_memory is not None:
            encoder_out = self.fused_memory
        return super().forward(x, encoder_out, *args, **kwargs)
