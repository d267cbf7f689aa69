"""Table 1 architectures: the paper's shapes, and parameter counts equal to the formula."""

import pytest
from fairseq_setup import parse, setup

from fairseq_recipes import paper
from fairseq_recipes.cost.model_shape import ModelShape, count_parameters

SEQ2SEQ = {"bart_12e12d": 12, "bart_12e2d": 2, "bart_12e1d": 1}


@pytest.mark.parametrize("arch", ["roberta_12e", *SEQ2SEQ])
def test_paper_shape(data_bin, arch):
    task = "recipes_mlm" if arch.startswith("roberta") else "recipes_span_denoising"
    args = parse(data_bin / "shard0", "--task", task, "--arch", arch)
    assert args.encoder_layers == paper.ENCODER_LAYERS == 12
    assert (args.encoder_embed_dim, args.encoder_ffn_embed_dim) == (1024, 4096)
    assert args.encoder_attention_heads == 16
    assert args.encoder_normalize_before and args.layernorm_embedding
    assert args.activation_fn == "gelu" and args.dropout == 0.1
    assert args.encoder_learned_pos and args.no_scale_embedding
    if arch in SEQ2SEQ:
        assert args.decoder_layers == SEQ2SEQ[arch]
        assert args.decoder_embed_dim == 1024 and args.decoder_normalize_before
        assert args.share_all_embeddings and args.share_decoder_input_output_embed
        assert args.max_source_positions == args.max_target_positions == 512
    else:
        assert args.max_positions == 512 and not args.untie_weights_roberta


@pytest.mark.parametrize("arch", ["roberta_12e", *SEQ2SEQ])
def test_parameter_count_equals_formula(data_bin, arch):
    task_name = "recipes_mlm" if arch.startswith("roberta") else "recipes_span_denoising"
    width = [
        "--encoder-embed-dim",
        32,
        "--encoder-ffn-embed-dim",
        48,
        "--encoder-attention-heads",
        2,
    ]
    if arch in SEQ2SEQ:
        width += [
            "--decoder-embed-dim",
            32,
            "--decoder-ffn-embed-dim",
            48,
            "--decoder-attention-heads",
            2,
        ]
    task, args = setup(data_bin / "shard0", "--task", task_name, "--arch", arch, *width)
    model = task.build_model(args)
    shape = ModelShape.of_model(model)
    assert shape.encoder_layers == 12 and shape.decoder_layers == SEQ2SEQ.get(arch, 0)
    assert shape.vocab == len(task.dictionary)
    assert sum(p.numel() for p in model.parameters()) == count_parameters(shape)
    if arch in SEQ2SEQ:  # one embedding matrix for encoder, decoder and output
        emb = model.encoder.embed_tokens.weight
        assert model.decoder.embed_tokens.weight is emb
        assert model.decoder.output_projection.weight is emb


def test_full_size_counts():
    """The paper-size models, by formula: decoder layers add what they should."""
    enc = count_parameters(ModelShape(vocab=250_000, encoder_layers=12))
    b12 = count_parameters(
        ModelShape(vocab=250_000, encoder_layers=12, decoder_layers=12)
    )
    b1 = count_parameters(ModelShape(vocab=250_000, encoder_layers=12, decoder_layers=1))
    d = 1024
    per_decoder_layer = 2 * 4 * (d * d + d) + (2 * d * 4096 + 4096 + d) + 3 * 2 * d
    assert b12 - b1 == 11 * per_decoder_layer
    assert 405e6 < enc < 412e6  # 12 x 12.6M layers + a 256M embedding + head
