"""Recipe 2's model in-process: warm start, tying, freezing under every optimizer wrapper,
attention fusion, and the errors for bad input."""

import copy
import fractions

import pytest
import torch
from fairseq import checkpoint_utils
from fairseq.optim.fp16_optimizer import FP16Optimizer
from fairseq_setup import setup
from helpers import DECODER_WIDTH, ENCODER_WIDTH

from fairseq_recipes.checkpoints import encoder_state
from fairseq_recipes.cost.model_shape import ModelShape, count_parameters
from fairseq_recipes.errors import RecipesError
from fairseq_recipes.models.attention_fusion import LayerFusion
from fairseq_recipes.models.freeze import _master_copies

WIDTH = ENCODER_WIDTH + DECODER_WIDTH


@pytest.fixture(scope="module")
def mlm_path(smoke):
    return smoke("roberta-12e")[0] / "checkpoint_last.pt"


def _build(data_bin, *extra, init=None, width=WIDTH):
    args = ["--task", "recipes_span_denoising", "--arch", "two_stage_bart_12e12d", *width]
    if init is not None:
        args += ["--init-encoder-from", init]
    task, ns = setup(data_bin / "shard0", *args, *extra)
    return task, task.build_model(ns)


def _batch(task, n=4):
    task.load_dataset("valid")
    ds = task.dataset("valid")
    return ds.collater([ds[i] for i in range(min(n, len(ds)))])


def test_warm_start_copies_the_mlm_encoder_exactly(data_bin, mlm_path):
    task, model = _build(data_bin, init=mlm_path)
    (mlm,), _ = checkpoint_utils.load_model_ensemble([str(mlm_path)])
    model.eval(), mlm.eval()
    batch = _batch(task)
    src, lengths = batch["net_input"]["src_tokens"], batch["net_input"]["src_lengths"]
    ours = model.encoder(src, lengths)["encoder_out"][0]
    theirs = mlm.encoder.sentence_encoder(src)["encoder_out"][0]
    assert torch.equal(ours, theirs)
    # the decoder input is the encoder's embedding; the LM head its own parameter
    embed = model.encoder.embed_tokens.weight
    assert model.decoder.embed_tokens.weight is embed
    head = model.decoder.output_projection.weight
    assert head is not embed and head.data_ptr() != embed.data_ptr()
    assert torch.equal(head, embed)
    assert torch.equal(embed, mlm.encoder.sentence_encoder.embed_tokens.weight)


@pytest.mark.parametrize("fusion", [False, True])
def test_parameter_count_equals_formula(data_bin, fusion):
    extra = ["--cross-attention", "fusion"] if fusion else []
    _, model = _build(data_bin, *extra)
    shape = ModelShape.of_model(model)
    assert not shape.tied_output and shape.fusion == fusion
    assert sum(p.numel() for p in model.parameters()) == count_parameters(shape)


def _train(task, model, optimizer, updates, *, protect=True, zero_grads=False):
    """fairseq's train and optimizer steps for the update numbers ``updates``."""
    from argparse import Namespace

    criterion = task.build_criterion(
        Namespace(criterion="cross_entropy", sentence_avg=False)
    )
    batch = _batch(task)
    for update in updates:
        optimizer.zero_grad()
        task.train_step(batch, model, criterion, optimizer, update)
        if zero_grads:  # what legacy_ddp does to parameters without a gradient
            for p in model.parameters():
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
        if protect:
            task.optimizer_step(optimizer, model, update)
        else:
            optimizer.step()


def _optimizer(kind, model, monkeypatch):
    """fairseq's Adam (weight decay 0.01), alone or inside its FP16Optimizer: fp16 with
    flat fp32 master buffers (the default) or per-parameter ones, or bf16 (never flat)."""
    from argparse import Namespace

    from fairseq import optim

    cfg = Namespace(
        optimizer="adam",
        lr=[1e-2],
        adam_betas="(0.9, 0.98)",
        adam_eps=1e-6,
        weight_decay=0.01,
        use_old_adam=False,
        fp16_adam_stats=False,
        tpu=False,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    if kind == "fp32":
        return optim.build_optimizer(cfg, params)
    half = torch.bfloat16 if kind == "bf16" else torch.float16
    model.to(half)
    full = Namespace(
        common=Namespace(
            bf16=half == torch.bfloat16,
            fp16=True,
            model_parallel_size=1,
            fp16_no_flatten_grads=kind == "fp16-nonflat",
            fp16_init_scale=1,
            fp16_scale_window=128,
            fp16_scale_tolerance=0.0,
            threshold_loss_scale=None,
            min_loss_scale=1e-4,
            amp=False,
        ),
        optimizer=cfg,
        optimization=Namespace(update_freq=[1]),
    )
    # fairseq keys its flat buffers by the CUDA device; on CPU, the CPU's index (None)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: None)
    optimizer = FP16Optimizer.build_optimizer(full, params)
    assert optimizer.has_flat_params == (kind == "fp16-flat")
    return optimizer


@pytest.mark.parametrize(
    "kind", ["fp32", "fp32-zero-grads", "fp16-flat", "fp16-nonflat", "bf16"]
)
def test_frozen_encoder_stays_bit_identical(data_bin, mlm_path, monkeypatch, kind):
    task, model = _build(data_bin, "--freeze-encoder-updates", "3", init=mlm_path)
    optimizer = _optimizer(kind.replace("-zero-grads", ""), model, monkeypatch)
    before = copy.deepcopy(model.state_dict())
    _train(task, model, optimizer, range(3), zero_grads=kind.endswith("zero-grads"))
    after = model.state_dict()
    encoder = [k for k in before if k.startswith("encoder.")]
    assert all(torch.equal(before[k], after[k]) for k in encoder)
    # so are the fp32 master copies the fp16/bf16 wrappers keep
    for p, master in _master_copies(optimizer):
        if any(p is q for q in model.encoder.parameters()):
            assert torch.equal(master, p.float())
    assert torch.equal(
        before["decoder.embed_tokens.weight"], after["decoder.embed_tokens.weight"]
    )
    assert not torch.equal(
        before["decoder.output_projection.weight"],
        after["decoder.output_projection.weight"],
    )
    assert not torch.equal(
        before["decoder.layers.0.fc1.weight"], after["decoder.layers.0.fc1.weight"]
    )
    # the switch: updates 3 and 4 train the encoder and the embeddings too
    _train(task, model, optimizer, range(3, 5), zero_grads=kind.endswith("zero-grads"))
    moved = model.state_dict()
    assert not torch.equal(
        before["encoder.embed_tokens.weight"], moved["encoder.embed_tokens.weight"]
    )
    assert not torch.equal(
        before["encoder.layers.0.fc1.weight"], moved["encoder.layers.0.fc1.weight"]
    )


@pytest.mark.parametrize("kind", ["fp32-zero-grads", "fp16-flat", "bf16"])
def test_without_protection_weight_decay_moves_the_frozen_encoder(
    data_bin, mlm_path, monkeypatch, kind
):
    """The failure protect_frozen prevents: zero gradients plus weight decay move it."""
    task, model = _build(data_bin, "--freeze-encoder-updates", "-1", init=mlm_path)
    optimizer = _optimizer(kind.replace("-zero-grads", ""), model, monkeypatch)
    weight = model.encoder.layers[0].fc1.weight
    before = weight.detach().float().clone()
    _train(
        task,
        model,
        optimizer,
        range(2),
        protect=False,
        zero_grads=kind.endswith("zero-grads"),
    )
    # in fp16 a decay of 1e-4 per step is below the weights' resolution, but the fp32
    # master copy moves, and unfreezing would carry that drift into the model
    masters = dict(_master_copies(optimizer)) or {weight: weight}
    assert not torch.equal(before, masters[weight].float())


def test_frozen_encoder_builds_no_graph(data_bin, mlm_path):
    task, model = _build(data_bin, "--freeze-encoder-updates", "2", init=mlm_path)
    model.train()
    batch = _batch(task)
    net = batch["net_input"]
    model.set_num_updates(1)
    out = model.encoder(net["src_tokens"], net["src_lengths"])["encoder_out"][0]
    assert not out.requires_grad
    logits, _ = model(**net)
    logits.sum().backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.decoder.output_projection.weight.grad is not None
    model.zero_grad()
    model.set_num_updates(2)
    out = model.encoder(net["src_tokens"], net["src_lengths"])["encoder_out"][0]
    assert out.requires_grad
    logits, _ = model(**net)
    logits.sum().backward()
    assert model.encoder.embed_tokens.weight.grad is not None


def test_fusion_weights_sum_to_one_per_token():
    torch.manual_seed(0)
    fusion = LayerFusion(decoder_layers=3, embed_dim=8)
    torch.nn.init.normal_(fusion.queries)
    states = torch.randn(7, 2, 5, 8)  # T x B x K layers x C
    weights = fusion.weights(states)
    assert weights.shape == (7, 2, 5, 3)
    assert torch.allclose(weights.sum(dim=2), torch.ones(7, 2, 3), atol=1e-6)
    assert (weights > 0).all()
    memories = fusion(states)
    assert len(memories) == 3 and memories[1].shape == (7, 2, 8)
    expected = (weights[:, :, :, 1].unsqueeze(-1) * states).sum(2)
    assert torch.allclose(memories[1], expected, atol=1e-6)
    # zero queries: a uniform mixture
    assert torch.allclose(
        LayerFusion(3, 8).weights(states), torch.full((7, 2, 5, 3), 0.2)
    )


def test_fusion_reads_every_encoder_layer_and_decodes_incrementally(data_bin, mlm_path):
    task, model = _build(data_bin, "--cross-attention", "fusion", init=mlm_path)
    torch.nn.init.normal_(model.decoder.layer_fusion.queries, std=1.0)
    model.eval()
    net = _batch(task, n=2)["net_input"]
    encoder_out = model.encoder(net["src_tokens"], net["src_lengths"])
    states = encoder_out["fusion_states"][0]
    assert states.shape[2] == 12
    # the final layer norm applied to every layer: the last is the standard output
    assert torch.equal(states[:, :, -1], encoder_out["encoder_out"][0])
    full, _ = model.decoder(net["prev_output_tokens"], encoder_out=encoder_out)
    # step by step with cached cross-attention: the same logits
    incremental = {}
    prev = net["prev_output_tokens"]
    steps = []
    for t in range(min(prev.size(1), 6)):
        out, _ = model.decoder(
            prev[:, : t + 1], encoder_out=encoder_out, incremental_state=incremental
        )
        steps.append(out)
    assert torch.allclose(torch.cat(steps, dim=1), full[:, : len(steps)], atol=1e-5)
    # and fusion changes what the decoder reads: not the standard model's output
    standard, _ = model.decoder(
        prev,
        encoder_out={
            **encoder_out,
            "fusion_states": [states[:, :, -1:].expand_as(states)],
        },
    )
    assert not torch.allclose(standard, full)


def test_reorder_keeps_fusion_states_with_their_sentences(data_bin):
    task, model = _build(data_bin, "--cross-attention", "fusion")
    model.eval()
    net = _batch(task, n=3)["net_input"]
    out = model.encoder(net["src_tokens"], net["src_lengths"])
    order = torch.tensor([2, 0, 0, 1])
    reordered = model.encoder.reorder_encoder_out(out, order)
    assert torch.equal(reordered["fusion_states"][0], out["fusion_states"][0][:, order])


# ---- bad input ------------------------------------------------------------------------
def _saved_variant(tmp_path, mlm_path, edit):
    state = encoder_state.load(mlm_path)
    edit(state)
    path = tmp_path / "variant.pt"
    torch.save(state, path)
    return path


def test_dictionary_with_other_symbols_is_refused(data_bin, mlm_path, tmp_path):
    def other_symbols(state):
        state["task_state"]["recipes_dictionary"]["sha256"] = "0" * 64

    path = _saved_variant(tmp_path, mlm_path, other_symbols)
    with pytest.raises(
        RecipesError, match="same size as the data's but different symbols"
    ):
        _build(data_bin, init=path)


def test_dictionary_of_other_size_is_refused(data_bin, mlm_path, tmp_path):
    def bigger(state):
        key = "encoder.sentence_encoder.embed_tokens.weight"
        state["model"][key] = torch.cat([state["model"][key], state["model"][key][:3]])

    path = _saved_variant(tmp_path, mlm_path, bigger)
    with pytest.raises(
        RecipesError, match=r"dictionary has \d+ symbols but the data's has"
    ):
        _build(data_bin, init=path)


@pytest.mark.parametrize(
    "option, value, name",
    [
        ("--encoder-embed-dim", 32, "encoder_embed_dim"),
        ("--encoder-layers", 6, "encoder_layers"),
        ("--encoder-attention-heads", 2, "encoder_attention_heads"),
        ("--encoder-ffn-embed-dim", 64, "encoder_ffn_embed_dim"),
    ],
)
def test_encoder_shape_must_match_the_checkpoint(data_bin, mlm_path, option, value, name):
    width = list(WIDTH)
    for opt in (option, option.replace("encoder", "decoder")):  # keep the two alike
        if opt in width:
            width[width.index(opt) + 1] = value
    if option not in width:
        width += [option, value]
    with pytest.raises(
        RecipesError, match=rf"has {name}=\S+, but this model has {value} \({option}\)"
    ):
        _build(data_bin, init=mlm_path, width=width)


def test_missing_and_wrong_kind_of_checkpoint(data_bin, smoke, tmp_path):
    with pytest.raises(RecipesError, match="no such checkpoint file"):
        _build(data_bin, init=tmp_path / "missing.pt")
    bart = smoke("bart-12e12d")[0] / "checkpoint_last.pt"
    with pytest.raises(RecipesError, match="is a seq2seq checkpoint, but an MLM"):
        _build(data_bin, init=bart)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(RecipesError, match="not a readable fairseq checkpoint"):
        _build(data_bin, init=junk)
    # a global outside fairseq's checkpoint classes: weights-only loading refuses it
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"model": {}, "extra_state": {"x": fractions.Fraction(1, 3)}}, unsafe)
    with pytest.raises(RecipesError, match="it pickles fractions.Fraction"):
        _build(data_bin, init=unsafe)


def test_options_are_validated(data_bin):
    with pytest.raises(RecipesError, match="--freeze-encoder-updates -2"):
        _build(data_bin, "--freeze-encoder-updates", "-2")
    with pytest.raises(RecipesError, match="--decoder-embed-dim 32 must equal"):
        _build(data_bin, "--decoder-embed-dim", "32")
