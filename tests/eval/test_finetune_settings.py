"""recipes-finetune's schedule and embedding freezing, as paper.py decides them: the
linear decay ends at Table 10's max updates for every task (training stops at the first
of the epochs and the max updates), and the embeddings are frozen by default for the
encoder tasks only (the paper's Appendix C sentence is in its encoder paragraph)."""

import argparse
import re
from pathlib import Path

import pytest
import torch

from fairseq_recipes import paper
from fairseq_recipes.eval import seq2seq
from fairseq_recipes.eval.finetune import build_parser, train_args
from fairseq_recipes.pipeline.config import from_dict

ENCODER_TASKS = ("xnli", "matis", "wikiann", "udpos")
#: English training set sizes of the released datasets (MultiNLI, mTOP, XSum)
TRAIN_SIZE = {
    "xnli": 392_702,
    "matis": 4_478,
    "wikiann": 20_000,
    "udpos": 21_000,
    "mtop": 15_667,
    "xsum": 204_045,
}


def _args(task, *options):
    return build_parser().parse_args(
        [
            "--checkpoint",
            "ck.pt",
            "--evaluation",
            task,
            "--data",
            "data-bin",
            "--output",
            "out",
            "--train",
            "t",
            "--valid",
            "v",
            *options,
        ]
    )


def _value(argv, option):
    return argv[argv.index(option) + 1]


def _train_args(task, *options, n_train=None):
    args = _args(task, *options)
    make = train_args if task in ENCODER_TASKS else seq2seq.train_args
    return make(args, 1, Path("run"), n_train or TRAIN_SIZE[task])


@pytest.mark.parametrize("task", list(TRAIN_SIZE))
def test_every_task_trains_with_the_papers_adamw_and_dropout(task):
    argv = _train_args(task)
    assert argv.count("--optimizer") == 1 and _value(argv, "--optimizer") == "adam"
    assert _value(argv, "--adam-betas") == str(paper.FINETUNE_ADAM_BETAS)
    assert float(_value(argv, "--weight-decay")) == paper.FINETUNE_WEIGHT_DECAY > 0
    assert float(_value(argv, "--dropout")) == paper.FINETUNE_DROPOUT


@pytest.mark.parametrize("task", list(TRAIN_SIZE))
def test_the_decay_ends_at_the_max_updates_for_every_task(task, capsys):
    argv = _train_args(task)
    if task in ENCODER_TASKS:
        max_updates, epochs = (paper.FINETUNE[task][k] for k in ("max_updates", "epochs"))
    else:
        max_updates = paper.SEQ2SEQ_FINETUNE_MAX_UPDATES
        epochs = paper.SEQ2SEQ_FINETUNE_MAX_EPOCHS
    assert _value(argv, "--total-num-update") == str(max_updates)
    assert _value(argv, "--max-update") == str(max_updates)
    assert _value(argv, "--max-epoch") == str(epochs)
    note = capsys.readouterr().out
    if task == "xnli":  # 5 epochs of MultiNLI are 15,340 updates of 128, against 30k
        assert note.strip() == (
            "xnli: 5 epochs of 392,702 examples end training at update 15,340, before "
            "the learning rate's decay ends at 30,000"
        )
    else:  # the epochs reach the max updates (within a few percent) or go beyond
        assert note == ""


def test_training_stopped_by_its_epochs_keeps_the_decay_of_the_max_updates(
    smoke, data_bin, tmp_path
):
    from helpers import python_module

    train = tmp_path / "train"
    lines = [f"en:{w}\t{'B-PER' if w == 'Ada' else 'O'}" for w in ("Ada", "met", "Bob")]
    train.write_text(("\n".join(lines) + "\n\n") * 16, encoding="utf-8")
    # 16 sentences, batch 16: one update per epoch; 6 epochs end it at update 6 of 12
    python_module(
        "fairseq_recipes.eval.finetune",
        "--checkpoint",
        smoke("roberta-12e")[0] / "checkpoint_last.pt",
        "--evaluation",
        "wikiann",
        "--data",
        data_bin,
        "--train",
        train,
        "--valid",
        train,
        "--test",
        f"en={train}",
        "--output",
        tmp_path / "out",
        "--seeds",
        "1",
        "--cpu",
        "--batch-size",
        "16",
        "--epochs",
        "6",
        "--max-updates",
        "12",
        "--warmup-updates",
        "2",
        "--peak-lr",
        "1e-3",
        "--max-piece-tokens",
        "16",
        "--log-interval",
        "1",
    )
    log = (tmp_path / "out" / "seed1" / "train.log").read_text()
    lrs = dict(
        (int(u), float(lr))
        for u, lr in re.findall(r"num_updates=(\d+), lr=([\d.e-]+)", log)
    )
    assert max(lrs) == 6
    # linear warmup over 2 updates, then linear decay towards 0 at update 12
    expected = {u: 1e-3 * (u / 2 if u <= 2 else (12 - u) / 10) for u in lrs}
    assert lrs == pytest.approx(expected)


@pytest.mark.parametrize("task", list(TRAIN_SIZE))
def test_freezing_the_embeddings_is_an_option_of_every_task(task):
    default = "--freeze-embeddings" in _train_args(task)
    assert default == paper.FINETUNE_FREEZE_EMBEDDINGS[task] == (task in ENCODER_TASKS)
    assert "--freeze-embeddings" in _train_args(task, "--freeze-embeddings")
    assert "--freeze-embeddings" not in _train_args(task, "--no-freeze-embeddings")


def test_the_main_job_passes_either_choice():
    cfg = from_dict(
        {
            "evaluate": {
                "finetune": {
                    "freeze_embeddings": False,
                    "mtop": {"freeze_embeddings": True},
                }
            }
        }
    )
    assert cfg.finetune_options("xnli")[-1] == "--no-freeze-embeddings"
    assert cfg.finetune_options("mtop")[-1] == "--freeze-embeddings"


@pytest.mark.parametrize("name", ["bart-12e2d", "2stage-bart-12e12d"])
def test_a_seq2seq_model_freezes_its_embedding_layer(smoke, data_bin, name):
    from fairseq import models

    from fairseq_recipes.tasks.semantic_parsing import (
        SemanticParsingConfig,
        SemanticParsingTask,
    )

    task = SemanticParsingTask.setup_task(SemanticParsingConfig(data=str(data_bin)))
    path = smoke(name)[0] / "checkpoint_last.pt"
    built = {}
    for freeze in (False, True):
        args = argparse.Namespace(
            arch="recipes_seq2seq",
            _name="recipes_seq2seq",
            task="x",
            seq2seq_from=str(path),
            freeze_embeddings=freeze,
        )
        built[freeze] = models.build_model(args, task)
    assert all(p.requires_grad for p in built[False].parameters())
    model = built[True]
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {
        "encoder.embed_tokens.weight",
        "encoder.embed_positions.weight",
        "decoder.embed_positions.weight",
    }  # the decoder's token embeddings are the encoder's (one tensor: listed once)
    assert model.decoder.embed_tokens.weight is model.encoder.embed_tokens.weight
    projection = model.decoder.output_projection.weight
    # bart_12eNd's output projection is the embedding matrix; the two-stage one is its own
    tied = projection is model.encoder.embed_tokens.weight
    assert tied == (name == "bart-12e2d") and projection.requires_grad == (not tied)
    state = torch.load(path, map_location="cpu", weights_only=False)["model"]
    assert torch.equal(
        model.encoder.embed_tokens.weight, state["encoder.embed_tokens.weight"]
    )
