"""FLOPs from the real shapes against torch's own count of the models' matrix products."""

import pytest
import torch
from fairseq_setup import setup
from helpers import DECODER_WIDTH as DECODER
from helpers import ENCODER_WIDTH as WIDTH
from helpers import flop_counter

from fairseq_recipes.cost.flops import forward_flops
from fairseq_recipes.cost.model_shape import ModelShape


@pytest.mark.parametrize(
    "arch, extra",
    [
        ("bart_12e12d", []),
        ("bart_12e1d", []),
        ("two_stage_bart_12e12d", []),
        ("two_stage_bart_12e12d", ["--cross-attention", "fusion"]),
    ],
)
def test_seq2seq_forward_flops(data_bin, arch, extra):
    task, args = setup(
        data_bin / "shard0",
        "--task",
        "recipes_span_denoising",
        "--arch",
        arch,
        *WIDTH,
        *DECODER,
        *extra,
    )
    model = task.build_model(args).eval()
    batch, n, m = 3, 40, 47
    src = torch.randint(5, len(task.dictionary), (batch, n))
    prev = torch.randint(5, len(task.dictionary), (batch, m))
    with torch.no_grad(), flop_counter() as counter:
        model(src, torch.full((batch,), n), prev)
    predicted = batch * forward_flops(ModelShape.of_model(model), n, m).total
    assert predicted == pytest.approx(counter.get_total_flops(), rel=0.02)


def test_mlm_forward_flops(data_bin):
    task, args = setup(
        data_bin / "shard0", "--task", "recipes_mlm", "--arch", "roberta_12e", *WIDTH
    )
    model = task.build_model(args).eval()
    src = torch.randint(5, len(task.dictionary), (2, 50))
    masked = torch.zeros(2, 50, dtype=torch.bool)
    masked[:, ::7] = True  # the head runs on the predicted positions only
    with torch.no_grad(), flop_counter() as counter:
        model(src, masked_tokens=masked)
    flops = forward_flops(ModelShape.of_model(model), 50, predicted=int(masked[0].sum()))
    assert 2 * flops.total == pytest.approx(counter.get_total_flops(), rel=0.02)


def test_frozen_encoder_costs_its_forward_only():
    shape = ModelShape(vocab=250_000, encoder_layers=12, decoder_layers=12)
    flops = forward_flops(shape, 512, 512)
    assert flops.train() == 3 * flops.total
    frozen = flops.train(encoder_frozen=True)
    # the encoder once, the cross-attention k/v projections without input gradients
    assert frozen == flops.encoder + 2 * flops.cross_kv + 3 * (
        flops.decoder - flops.cross_kv + flops.output
    )
    fused = forward_flops(
        ModelShape(vocab=250_000, encoder_layers=12, decoder_layers=12, fusion=True),
        512,
        512,
    )
    assert fused.cross_kv == 0 and fused.train(True) > frozen
