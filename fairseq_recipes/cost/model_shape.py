"""The shape of an encoder or encoder-decoder model, and its parameter count by formula.

The formula counts what fairseq builds for ``roberta_12e`` and ``bart_12e*d`` (PreLayerNorm
blocks, a layer norm on the embeddings, a final layer norm, learned positions, tied
embeddings) so that a test can hold the real models to it.
"""

from dataclasses import dataclass

from .. import paper


@dataclass(frozen=True)
class ModelShape:
    vocab: int
    encoder_layers: int
    decoder_layers: int = 0  # 0: encoder only (with an MLM head)
    hidden: int = paper.HIDDEN
    ffn: int = paper.FFN
    positions: int = paper.TOKENS_PER_SAMPLE
    #: fairseq's learned positions reserve padding_idx + 1 extra rows
    position_offset: int = 2
    #: the output projection (MLM head or LM head) is the input embedding matrix
    tied_output: bool = True
    #: attention fusion: one query vector per decoder layer (recipe 2's "-attn-f")
    fusion: bool = False
    #: a seq2seq model whose encoder also has an MLM head, tied (recipe 3's joint model)
    mlm_head: bool = False

    @classmethod
    def of_model(cls, model) -> "ModelShape":
        """The shape of a built fairseq RoBERTa or BART-style model."""
        encoder = getattr(model.encoder, "sentence_encoder", model.encoder)
        decoder = getattr(model, "decoder", None)
        layer = encoder.layers[0]
        if decoder is not None:
            output = decoder.output_projection.weight
        else:  # a fine-tuning model has no MLM head
            head = getattr(model.encoder, "lm_head", None)
            output = head.weight if head is not None else None
        return cls(
            vocab=encoder.embed_tokens.num_embeddings,
            encoder_layers=len(encoder.layers),
            decoder_layers=len(decoder.layers) if decoder is not None else 0,
            hidden=encoder.embed_tokens.embedding_dim,
            ffn=layer.fc1.out_features,
            positions=encoder.max_source_positions,
            tied_output=output is encoder.embed_tokens.weight,
            fusion=getattr(decoder, "layer_fusion", None) is not None,
            mlm_head=decoder is not None and getattr(model, "mlm_head", None) is not None,
        )


def _layer_norm(d: int) -> int:
    return 2 * d


def _attention(d: int) -> int:
    return 4 * (d * d + d)  # q, k, v and output projections with biases


def _ffn(d: int, f: int) -> int:
    return d * f + f + f * d + d


def encoder_layer_params(s: ModelShape) -> int:
    return _attention(s.hidden) + _ffn(s.hidden, s.ffn) + 2 * _layer_norm(s.hidden)


def decoder_layer_params(s: ModelShape) -> int:
    return 2 * _attention(s.hidden) + _ffn(s.hidden, s.ffn) + 3 * _layer_norm(s.hidden)


def _stack_extras(s: ModelShape) -> int:
    """Positions, the embedding layer norm and the final layer norm of one stack."""
    return (s.positions + s.position_offset) * s.hidden + 2 * _layer_norm(s.hidden)


def embedding_params(s: ModelShape) -> int:
    return s.vocab * s.hidden


def mlm_head_params(s: ModelShape, tied: bool = True) -> int:
    """Dense + layer norm + output bias; the projection is the embedding when tied."""
    d = s.hidden
    return d * d + d + _layer_norm(d) + s.vocab + (0 if tied else s.vocab * d)


def count_parameters(s: ModelShape) -> int:
    """Parameters of roberta_12e (decoder_layers == 0, with its MLM head), bart_12eNd, a
    two-stage model (untied output projection, optionally fusion queries) or the joint
    model (bart_12e12d with a tied MLM head)."""
    total = embedding_params(s) + _stack_extras(s)
    total += s.encoder_layers * encoder_layer_params(s)
    if s.decoder_layers == 0:
        return total + mlm_head_params(s, tied=s.tied_output)
    total += _stack_extras(s) + s.decoder_layers * decoder_layer_params(s)
    total += 0 if s.tied_output else embedding_params(s)
    total += mlm_head_params(s, tied=True) if s.mlm_head else 0
    return total + (s.decoder_layers * s.hidden if s.fusion else 0)
