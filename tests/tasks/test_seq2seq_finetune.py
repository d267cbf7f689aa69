"""Seq2seq fine-tuning: ids of the sentinel format round-trip with the real SentencePiece
model, the fine-tuning model is the pre-trained checkpoint's own, and each task fine-tunes
a tiny model that fairseq-generate (beam 3) decodes into text the scorers read."""

import argparse
import json
import re

import pytest
import torch
from fairseq import models
from helpers import python_module, shared_data

from fairseq_recipes.data.finetune.mtop import read_mtop
from fairseq_recipes.errors import RecipesError
from fairseq_recipes.scoring.rouge import rouge
from fairseq_recipes.scoring.sciem import sciem
from fairseq_recipes.tasks.semantic_parsing import (
    SemanticParsingConfig,
    SemanticParsingTask,
)


def _task(data_bin, mtop, target_format="sentinels"):
    cfg = SemanticParsingConfig(data=str(data_bin), train_file=str(mtop / "en" / "train.txt"),
                                target_format=target_format)  # fmt: skip
    return SemanticParsingTask.setup_task(cfg)


@pytest.mark.parametrize("target_format", ["sentinels", "words"])
def test_ids_round_trip_every_example(data_bin, mtop, target_format):
    task = _task(data_bin, mtop, target_format)
    for example in read_mtop(mtop / "de" / "test.txt"):
        source, target = task.encode(example)
        if target_format == "sentinels":
            assert source[0] == task.sentinel_ids[0]
            assert task.source_words(source) == list(example.words)
            # the slot word is pointed at, never spelled
            assert sum(int(i) in task.sentinel_of for i in target) == 1
        else:
            assert not any(
                int(i) in task.sentinel_of for i in source.tolist() + target.tolist()
            )
        assert task.scored_text(target, source) == example.logical_form


def _model(checkpoint, data_bin, mtop, **options):
    args = argparse.Namespace(arch="recipes_seq2seq", _name="recipes_seq2seq", task="x",
                              seq2seq_from=str(checkpoint), **options)  # fmt: skip
    return models.build_model(args, _task(data_bin, mtop))


@pytest.mark.parametrize("name", ["bart-12e2d", "2stage-bart-12e12d-attn-f"])
def test_the_model_is_the_checkpoint_own(smoke, data_bin, mtop, name):
    path = smoke(name)[0] / "checkpoint_last.pt"
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = _model(path, data_bin, mtop)
    assert type(model).__name__ == ("TwoStageModel" if "2stage" in name else "BARTModel")
    ours = model.state_dict()
    assert ours.keys() == state["model"].keys()
    assert all(torch.equal(ours[k], v) for k, v in state["model"].items())
    assert model.args.decoder_layers == state["cfg"]["model"].decoder_layers
    if "2stage" in name:  # frozen throughout in pre-training, trained in fine-tuning
        assert state["cfg"]["model"].freeze_encoder_updates == -1
        assert model.args.freeze_encoder_updates == 0 and not model.encoder.frozen
        assert model.args.init_encoder_from is None
        assert model.decoder.layer_fusion is not None


def test_wrong_checkpoints_are_one_line_errors(smoke, data_bin, mtop):
    roberta = smoke("roberta-12e")[0] / "checkpoint_last.pt"
    with pytest.raises(
        RecipesError, match="is an MLM .* a seq2seq checkpoint is expected"
    ):
        _model(roberta, data_bin, mtop)
    bart = smoke("bart-12e2d")[0] / "checkpoint_last.pt"
    with pytest.raises(RecipesError, match="only two-stage models have a freeze"):
        _model(bart, data_bin, mtop, freeze_encoder_updates=5)


def _finetune(checkpoint, data_bin, output, task, train, valid, tests, *extra):
    return python_module(
        "fairseq_recipes.eval.finetune", "--checkpoint", checkpoint, "--task", task,
        "--data", data_bin, "--train", train, "--valid", valid, "--test", *tests,
        "--output", output, "--seeds", "1", "--cpu", "--batch-size", "16",
        "--peak-lr", "1e-3", "--warmup-updates", "4", "--max-source-tokens", "128",
        "--max-target-tokens", "64", "--log-interval", "1", *extra,
    )  # fmt: skip


def _printed_score(path, name):
    """The score fairseq-generate's own scorer printed at the end of its output."""
    return float(
        re.search(rf"{name} ([\d.]+)", path.read_text().splitlines()[-1]).group(1)
    )


def test_mtop_fine_tunes_and_generates_with_beam_3(smoke, data_bin, mtop, tmp_path):
    bart = smoke("bart-12e2d")[0] / "checkpoint_last.pt"
    out = tmp_path / "mtop"
    tests = [f"{lang}={mtop / lang / 'test.txt'}" for lang in ("en", "de")]
    _finetune(bart, data_bin, out, "mtop", mtop / "en" / "train.txt",
              mtop / "en" / "eval.txt", tests, "--max-updates", "12")  # fmt: skip
    log = (out / "seed1" / "train.log").read_text()
    # the paper's schedule: geometric warmup from 1e-7 to the peak over 4 updates
    lrs = [float(x) for x in re.findall(r"num_updates=\d+, lr=([\d.e-]+)", log)]
    assert lrs[:4] == pytest.approx(
        [1e-7 * (1e-3 / 1e-7) ** (u / 4) for u in (1, 2, 3, 4)]
    )
    assert "best_sciem" in log  # validation generated and scored SCIEM
    metrics = json.loads((out / "seed1" / "metrics.json").read_text())
    assert metrics["metric"] == "sciem" and set(metrics["languages"]) == {"en", "de"}
    for lang in ("en", "de"):
        gold = [e.logical_form for e in read_mtop(mtop / lang / "test.txt")]
        rows = (out / "seed1" / "predictions" / f"{lang}.tsv").read_text().splitlines()
        assert [r.split("\t")[0] for r in rows] == gold
        hypotheses = [r.split("\t")[1] for r in rows]
        assert metrics["languages"][lang]["sciem"] == sciem(gold, hypotheses)
        # fairseq-generate --scoring recipes_sciem, with sentinels mapped back to words
        # on both sides, agrees with the score against the file's own forms
        generated = out / "seed1" / f"generate-{lang}.txt"
        assert _printed_score(generated, "SCIEM") == pytest.approx(
            metrics["languages"][lang]["sciem"], abs=0.01
        )
        assert sum(
            line.startswith("D-") for line in generated.read_text().splitlines()
        ) == len(gold)
        assert all("<w" not in line for line in generated.read_text().splitlines()
                   if line.startswith(("D-", "T-")))  # fmt: skip
    assert metrics["avg_0s"] == metrics["languages"]["de"]["sciem"]
    again = _finetune(bart, data_bin, out, "mtop", mtop / "en" / "train.txt",
                      mtop / "en" / "eval.txt", tests, "--max-updates", "12")  # fmt: skip
    assert "seed 1: " in again.stdout and "exists, reused" in again.stdout


@pytest.fixture
def xsum_files(tmp_path):
    """The real extracted .data samples when present, else a .source/.target pair."""
    shared = shared_data()
    if shared is not None:
        path = shared / "xsum" / "xsum-extracts-from-downloads_Filtered"
        return path, path
    documents = ["the cat sat on the mat and looked at the garden for a long time"] * 12
    summaries = ["a cat sat on a mat"] * 12
    (tmp_path / "train.source").write_text("\n".join(documents) + "\n")
    (tmp_path / "train.target").write_text("\n".join(summaries) + "\n")
    return tmp_path / "train", tmp_path / "train"


def test_xsum_fine_tunes_and_generates_with_beam_3(smoke, data_bin, xsum_files, tmp_path):
    from fairseq_recipes.data.finetune.xsum import read_xsum

    bart = smoke("bart-12e2d")[0] / "checkpoint_last.pt"
    train, test = xsum_files
    out = tmp_path / "xsum"
    _finetune(bart, data_bin, out, "xsum", train, train, [f"en={test}"],
              "--max-updates", "6")  # fmt: skip
    log = (out / "seed1" / "train.log").read_text()
    assert "best_loss" in log  # validation by perplexity
    metrics = json.loads((out / "seed1" / "metrics.json").read_text())
    rows = (out / "seed1" / "predictions" / "en.tsv").read_text().splitlines()
    gold = [" ".join(e.summary.split()) for e in read_xsum(str(test))]
    assert [r.split("\t")[0] for r in rows] == gold
    hypotheses = [r.split("\t")[1] for r in rows]
    assert metrics["languages"]["en"] == pytest.approx(rouge(gold, hypotheses))
    assert set(metrics["languages"]["en"]) == {"rouge1", "rouge2", "rougeL"}
    assert metrics["en"] == metrics["languages"]["en"]["rougeL"]
    printed = (out / "seed1" / "generate-en.txt").read_text().splitlines()[-1]
    assert printed.startswith("Generate test.en with beam=3: ROUGE-1")


def test_beam_search_is_unchanged_by_undoing_the_beamable_switch(smoke, data_bin, mtop):
    """Validation generates, then trains on: the tasks undo fairseq's "beamable"
    cross-attention switch, which must not change what beam search finds (fusion too)."""
    from fairseq_recipes.tasks.seq2seq_finetune import _undo_beamable

    path = smoke("2stage-bart-12e12d-attn-f")[0] / "checkpoint_last.pt"
    task = _task(data_bin, mtop)
    model = _model(path, data_bin, mtop).eval()
    task.cfg.test_file = str(mtop / "{lang}" / "test.txt")
    task.load_dataset("test.de")
    dataset = task.datasets["test.de"]
    batch = dataset.collater([dataset[i] for i in range(6)])
    found = []
    for undo in (False, True):
        generator = task.build_generator(
            [model], argparse.Namespace(beam=3, max_len_b=20)
        )
        if undo:
            _undo_beamable(model)
        with torch.no_grad():
            hypos = generator.generate([model], batch)
        found.append(
            [(h[0]["tokens"].tolist(), round(float(h[0]["score"]), 4)) for h in hypos]
        )
    assert found[0] == found[1]
    # and a training forward works after generation
    model.train()
    out, _ = model(**batch["net_input"])
    assert out.shape[:2] == batch["target"].shape
