"""Training FLOPs of the project's models, counted from their real shapes.

Only matrix products are counted (2 FLOPs per multiply-add), as
``torch.utils.flop_counter.FlopCounterMode`` does: layer norms, softmax, GELU and
embedding lookups are a few percent at most. Per sequence of ``n`` source and ``m``
target tokens, width ``d``, FFN width ``f``, vocabulary ``V``:

* encoder layer: 8nd^2 (q, k, v, out projections) + 4n^2 d (scores, mixing) + 4ndf (FFN);
* decoder layer: self-attention 8md^2 + 4m^2 d, cross-attention 4md^2 (q, out) + 4nd^2
  (k, v over the source) + 4mnd, FFN 4mdf; attention fusion adds 4LKnd per decoder stack
  (L decoder layers scoring and mixing K encoder layers);
* output: the seq2seq LM head 2mdV; the MLM head only at the ``p`` predicted positions
  (fairseq's ``masked_lm`` criterion), 2pd^2 + 2pdV.

Training costs forward + backward = 3x forward for what trains, 1x forward (one third)
for a frozen encoder: the paper's estimate instead charges a frozen layer half. With the
encoder frozen, the decoder's cross-attention key/value projections of the source also
cost 2x forward instead of 3x: their backward computes weight gradients only, since no
gradient flows into the frozen encoder output.

Recipe 3's joint model is priced per objective: an MLM update as an encoder-only model of
its width (encoder and MLM head on the predicted positions), a span-denoising update as
the seq2seq model.
"""

from dataclasses import dataclass, replace

from .. import paper
from ..data.objective_schedule import MLM
from ..data.span_noise import expected_source_tokens
from .model_shape import ModelShape


def encoder_layer_forward(n: int, d: int, f: int) -> int:
    return 8 * n * d * d + 4 * n * n * d + 4 * n * d * f


def decoder_layer_forward(m: int, n: int, d: int, f: int) -> int:
    self_attention = 8 * m * d * d + 4 * m * m * d
    cross_attention = 4 * m * d * d + 4 * n * d * d + 4 * m * n * d
    return self_attention + cross_attention + 4 * m * d * f


@dataclass(frozen=True)
class ForwardFlops:
    """Forward FLOPs of one sequence, by part of the model."""

    encoder: int
    decoder: int  # fusion and cross_kv included
    output: int  # LM head or MLM head
    #: the decoder's key/value projections of the encoder output, when no gradient has to
    #: flow into it once the encoder is frozen (0 with fusion: the queries need one)
    cross_kv: int = 0

    @property
    def total(self) -> int:
        return self.encoder + self.decoder + self.output

    def train(self, encoder_frozen: bool = False) -> int:
        """Forward + backward of one training step on this sequence."""
        if not encoder_frozen:
            return 3 * self.total
        # no input gradient for the frozen encoder's output: weight gradients only
        return (
            self.encoder
            + 2 * self.cross_kv
            + 3 * (self.total - self.encoder - self.cross_kv)
        )


def forward_flops(
    shape: ModelShape, source: int, target: int = 0, predicted: int = 0
) -> ForwardFlops:
    """Forward FLOPs for ``source`` encoder tokens and ``target`` decoder tokens (a
    seq2seq model) or ``predicted`` MLM positions (an encoder-only model)."""
    d, f, v = shape.hidden, shape.ffn, shape.vocab
    encoder = shape.encoder_layers * encoder_layer_forward(source, d, f)
    if shape.decoder_layers == 0:
        return ForwardFlops(encoder, 0, 2 * predicted * d * d + 2 * predicted * d * v)
    decoder = shape.decoder_layers * decoder_layer_forward(target, source, d, f)
    if shape.fusion:
        decoder += 4 * shape.decoder_layers * shape.encoder_layers * source * d
    cross_kv = 0 if shape.fusion else shape.decoder_layers * 4 * source * d * d
    return ForwardFlops(encoder, decoder, 2 * target * d * v, cross_kv)


def stage_shape(stage, vocab: int, hidden: int, ffn: int, positions: int) -> ModelShape:
    """The shape a Table 1 stage trains, at a given width and vocabulary."""
    return ModelShape(
        vocab=vocab,
        encoder_layers=stage.encoder_layers,
        decoder_layers=stage.decoder_layers,
        hidden=hidden,
        ffn=ffn,
        positions=positions,
        fusion=stage.cross_attention == "fusion",
    )


def block_forward_flops(stage, shape: ModelShape, objective: str = "") -> ForwardFlops:
    """Forward FLOPs of one training block of ``shape.positions`` tokens, with the stage's
    noise: MLM predicts ``MLM_MASK_PROB`` of the positions; span denoising feeds the
    encoder the noised block (shorter) and the decoder the whole block. ``objective``:
    one of recipe 3's (``mlm`` runs the encoder and its MLM head alone)."""
    block = shape.positions
    if stage.decoder_layers == 0 or objective == MLM:
        encoder_only = replace(shape, decoder_layers=0, fusion=False)
        return forward_flops(encoder_only, block, predicted=paper.MLM_MASK_PROB * block)
    source = expected_source_tokens(
        block, stage.noise_mode, paper.SPAN_NOISE_RATIO, paper.SPAN_POISSON_LAMBDA
    )
    return forward_flops(shape, source, target=block)


def phase_flops(phase, shape: ModelShape, tokens_per_update: int) -> float:
    """Training FLOPs of a phase (``training_units.Phase``) of full blocks."""
    blocks = phase.tokens(tokens_per_update) / shape.positions
    return blocks * sum(
        block_forward_flops(phase.stage, shape, objective).train(phase.encoder_frozen)
        for objective in (phase.objectives or ("",))
    )


def flops_per_tu(shape: ModelShape) -> float:
    """The FLOPs of one TU at this width and block length: 12 trained encoder layers (no
    embeddings, no output head) over TU_UPDATES updates of TU_TOKENS_PER_UPDATE tokens."""
    blocks = paper.TU_UPDATES * paper.TU_TOKENS_PER_UPDATE / shape.positions
    per_block = paper.TU_LAYERS * encoder_layer_forward(
        shape.positions, shape.hidden, shape.ffn
    )
    return blocks * 3 * per_block
