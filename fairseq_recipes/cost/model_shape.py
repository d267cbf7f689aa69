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

    @classmethod
    def of_model(cls, model) -> "ModelShape":
        """The shape of a built fairseq RoBERTa or BART-style model."""
        encoder = getattr(model.encoder, "sentence_encoder", model.encoder)
        decoder = getattr(model, "decoder", None)
        layer = encoder.layers[0]
        return cls(
            vocab=encoder.embed_tokens.num_embeddings,
            encoder_layers=len(encoder.layers),
            decoder_layers=len(decoder.layers) if decoder is not None else 0,
            hidden=encoder.embed_tokens.embedding_dim,
            ffn=layer.fc1.out_features,
            positions=encoder.max_source_positions,
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


def count_parameters(s: ModelShape, untied_output: bool = False) -> int:
    """Parameters of roberta_12e (decoder_layers == 0, with its MLM head) or bart_12eNd."""
    total = embedding_params(s) + _stack_extras(s)
    total += s.encoder_layers * encoder_layer_params(s)
    if s.decoder_layers == 0:
        return total + mlm_head_params(s, tied=not untied_output)
    total += _stack_extras(s) + s.decoder_layers * decoder_layer_params(s)
    return total + (embedding_params(s) if untied_output else 0)
