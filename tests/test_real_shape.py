"""The paper's shapes in the test suite: the cheapest check that crosses the risky paths.

One update of ``roberta-12e`` and two of ``2stage-bart-12e12d-unfrz`` (one frozen, one
unfrozen: across its switch) at width 1024, FFN 4096, 16 heads, 12 + 12 layers and the
250,002-entry dictionary (the toy corpus's SentencePiece model padded with unused
symbols, as ``configs/rehearsal.toml`` does), through fairseq's own task, model,
criterion and Trainer, built from exactly the arguments the train scripts pass
(``DRY_RUN=1``). Only the blocks are shorter (64 tokens, positions still 512) and the
batch one block, so an update takes seconds; the weights, Adam's state, the untied
250k-row output projection and the warm start are the real ones. ``make rehearsal``
runs every stage and evaluation at these shapes with 512-token blocks and prints figures.

Memory: about 17 GB at the unfrozen update (866M parameters with gradients and Adam's
two moments), so the test skips on a machine with less available.
"""

import shlex
import sys

import pytest
import torch
from helpers import ROOT, python_module, run

from fairseq_recipes.checkpoints import encoder_state
from fairseq_recipes.cost.flops import forward_flops
from fairseq_recipes.cost.model_shape import ModelShape, count_parameters
from fairseq_recipes.pipeline.rehearsal import GB, available_memory

VOCAB = 250_002
NEEDED = 19 * GB
pytestmark = pytest.mark.skipif(
    available_memory() < NEEDED,
    reason=f"the paper's shapes need about {NEEDED / GB:.0f} GB available",
)


@pytest.fixture(scope="module")
def real_vocab_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    python_module(
        "fairseq_recipes.toy.corpus",
        "--output",
        root / "raw",
        "--langs",
        "en,de",
        "--docs-per-lang",
        "30",
    )
    python_module(
        "fairseq_recipes.preprocessing.binarize",
        "--input",
        root / "raw",
        "--output",
        root / "data-bin",
        "--vocab-size",
        "1000",
        "--valid-docs",
        "1",
        "--dictionary-size",
        VOCAB,
        "--workers",
        "1",
    )
    return root / "data-bin"


def _script_args(name, data, save_dir, **env):
    """fairseq-train's arguments as ``train_scripts/<name>.sh`` passes them."""
    env = {
        "DRY_RUN": "1",
        "SMOKE": "0",
        "GPUS_PER_NODE": "0",
        "DATA": str(data),
        "SAVE_DIR": str(save_dir),
        "PYTHON": sys.executable,
        "TOKENS_PER_SAMPLE": "64",
        "MAX_TOKENS": "64",
        "TOKENS_PER_UPDATE": "64",
        "WARMUP": "1",
        "NUM_WORKERS": "0",
        **{k: str(v) for k, v in env.items()},
    }
    command = shlex.split(
        run(["bash", ROOT / "train_scripts" / f"{name}.sh"], env=env)
        .stdout.strip()
        .splitlines()[-1]
    )
    return command[command.index("fairseq_cli.train") + 1 :]


def _trainer(argv):
    from fairseq import options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    args = options.parse_args_and_arch(options.get_training_parser(), input_args=argv)
    cfg = convert_namespace_to_omegaconf(args)
    utils.set_torch_seed(cfg.common.seed)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    trainer = Trainer(cfg, task, model, task.build_criterion(cfg.criterion))
    batches = trainer.get_train_iterator(epoch=1).next_epoch_itr(shuffle=False)
    return trainer, model, batches


def _update(trainer, batches):
    """One update; returns (its ledger FLOPs, the batch)."""
    before = trainer.task.ledger.flops
    sample = next(batches)
    trainer.train_step([sample])
    return trainer.task.ledger.flops - before, sample


def _flops(sample, shape, frozen, pad=1):
    source = sample["net_input"]["src_tokens"].ne(pad).sum(1).tolist()
    target = sample["target"].ne(pad).sum(1).tolist()
    if shape.decoder_layers == 0:
        return sum(
            forward_flops(shape, n, predicted=m).train() for n, m in zip(source, target)
        )
    return sum(
        forward_flops(shape, n, target=m).train(frozen) for n, m in zip(source, target)
    )


def test_roberta_then_the_unfreezing_recipe_across_its_switch_at_the_real_shapes(
    real_vocab_data, tmp_path
):
    # roberta-12e: one update, its parameters the formula's, its ledger the formula's
    argv = _script_args("roberta-12e", real_vocab_data, tmp_path / "roberta", UPDATES=1)
    trainer, model, batches = _trainer(argv + ["--no-save-optimizer-state"])
    shape = ModelShape.of_model(model)
    assert (shape.vocab, shape.hidden, shape.ffn, shape.positions) == (
        VOCAB,
        1024,
        4096,
        512,
    )
    assert sum(p.numel() for p in model.parameters()) == count_parameters(shape)
    flops, sample = _update(trainer, batches)
    assert abs(flops - _flops(sample, shape, False)) < 1e-9 * flops
    assert torch.isfinite(next(model.parameters())).all()
    init = tmp_path / "roberta.pt"
    trainer.save_checkpoint(str(init), {"train_iterator": {"epoch": 1}})
    del trainer, model, batches
    # the MLM encoder as saved, memory-mapped (read from the file, not copied)
    saved = torch.load(str(init), map_location="cpu", mmap=True, weights_only=True)
    encoder = encoder_state.encoder_weights(saved)
    assert len(encoder) > 190 and encoder["embed_tokens.weight"].shape == (VOCAB, 1024)

    # 2stage-bart-12e12d-unfrz: warm start, frozen for update 1, unfrozen at update 2
    argv = _script_args(
        "2stage-bart-12e12d-unfrz",
        real_vocab_data,
        tmp_path / "unfrz",
        INIT=init,
        UPDATES=2,
        FREEZE_ENCODER_UPDATES=1,
    )
    trainer, model, batches = _trainer(argv)
    shape = ModelShape.of_model(model)
    assert not shape.tied_output and shape.decoder_layers == 12 and shape.vocab == VOCAB
    assert sum(p.numel() for p in model.parameters()) == count_parameters(shape)
    embed, projection = (
        model.encoder.embed_tokens.weight,
        model.decoder.output_projection.weight,
    )
    assert model.decoder.embed_tokens.weight is embed and projection is not embed
    assert torch.equal(projection, embed)  # initialized from the embeddings

    def same_encoder():
        now = model.encoder.state_dict()
        return all(torch.equal(now[k], v) for k, v in encoder.items())

    assert same_encoder()
    flops, sample = _update(trainer, batches)
    assert same_encoder()  # frozen: bit-identical to the MLM encoder
    # the untied projection trains while the encoder is frozen: it has a gradient (its
    # values move from the next update on: fairseq's polynomial_decay warms up from a
    # learning rate of 0 at the first update)
    assert projection.grad is not None and projection.grad.abs().sum() > 0
    assert model.encoder.embed_tokens.weight.grad is None
    assert abs(flops - _flops(sample, shape, True)) < 1e-9 * flops
    flops, sample = _update(trainer, batches)
    assert not same_encoder()  # past the switch the encoder trains
    assert abs(flops - _flops(sample, shape, False)) < 1e-9 * flops
