"""The from-scratch architectures of the paper's Table 1, on fairseq's own models.

``roberta_12e`` is fairseq's ``roberta`` and ``bart_12e{12,2,1}d`` fairseq's ``bart`` with
the paper's shapes: PreLayerNorm blocks (layer norm inside each residual branch) plus a final
layer norm, a layer norm on the embeddings (XLM-R, mBART), learned positions for
``TOKENS_PER_SAMPLE`` tokens, GELU, no embedding scaling (RoBERTa's; it also makes a
RoBERTa encoder and a BART encoder compute the same function, which recipe 2 relies on), and
for BART one dictionary with encoder, decoder and output embeddings tied. Any value given on
the command line wins (``getattr`` defaults), which is how smoke runs shrink the width.
"""

from fairseq.models import register_model_architecture
from fairseq.models.bart.model import bart_large_architecture
from fairseq.models.roberta.model import base_architecture as roberta_base_architecture

from .. import paper


def _encoder_shape(args):
    args.encoder_layers = getattr(args, "encoder_layers", paper.ENCODER_LAYERS)
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", paper.HIDDEN)
    args.encoder_ffn_embed_dim = getattr(args, "encoder_ffn_embed_dim", paper.FFN)
    args.encoder_attention_heads = getattr(args, "encoder_attention_heads", paper.HEADS)
    args.encoder_normalize_before = getattr(args, "encoder_normalize_before", True)
    args.encoder_learned_pos = getattr(args, "encoder_learned_pos", True)
    args.layernorm_embedding = getattr(args, "layernorm_embedding", True)
    args.no_scale_embedding = getattr(args, "no_scale_embedding", True)
    args.activation_fn = getattr(args, "activation_fn", "gelu")
    args.dropout = getattr(args, "dropout", paper.DROPOUT)
    args.attention_dropout = getattr(args, "attention_dropout", paper.ATTENTION_DROPOUT)
    args.activation_dropout = getattr(
        args, "activation_dropout", paper.ACTIVATION_DROPOUT
    )


@register_model_architecture("roberta", "roberta_12e")
def roberta_12e(args):
    _encoder_shape(args)
    args.max_positions = getattr(args, "max_positions", paper.TOKENS_PER_SAMPLE)
    # the MLM head's projection is the input embedding matrix, as in XLM-R
    args.untie_weights_roberta = getattr(args, "untie_weights_roberta", False)
    roberta_base_architecture(args)


def _bart(args, decoder_layers: int):
    _encoder_shape(args)
    args.decoder_layers = getattr(args, "decoder_layers", decoder_layers)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", args.encoder_embed_dim)
    args.decoder_ffn_embed_dim = getattr(
        args, "decoder_ffn_embed_dim", args.encoder_ffn_embed_dim
    )
    args.decoder_attention_heads = getattr(
        args, "decoder_attention_heads", args.encoder_attention_heads
    )
    args.decoder_normalize_before = getattr(args, "decoder_normalize_before", True)
    args.decoder_learned_pos = getattr(args, "decoder_learned_pos", True)
    args.max_source_positions = getattr(
        args, "max_source_positions", paper.TOKENS_PER_SAMPLE
    )
    args.max_target_positions = getattr(
        args, "max_target_positions", paper.TOKENS_PER_SAMPLE
    )
    args.share_all_embeddings = getattr(args, "share_all_embeddings", True)
    args.share_decoder_input_output_embed = getattr(
        args, "share_decoder_input_output_embed", True
    )
    bart_large_architecture(args)


@register_model_architecture("bart", "bart_12e12d")
def bart_12e12d(args):
    _bart(args, paper.DECODER_LAYERS["bart_12e12d"])


@register_model_architecture("bart", "bart_12e2d")
def bart_12e2d(args):
    _bart(args, paper.DECODER_LAYERS["bart_12e2d"])


@register_model_architecture("bart", "bart_12e1d")
def bart_12e1d(args):
    _bart(args, paper.DECODER_LAYERS["bart_12e1d"])
