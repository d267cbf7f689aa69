"""Seq2seq fine-tuning: ids of the sentinel format round-trip with the real SentencePiece
model, the fine-tuning model is the pre-trained checkpoint's own, and each task fine-tunes
a tiny model that fairseq-generate (beam 3) decodes into text the scorers read."""

import argparse
import json
import re

import pytest
import torch
from fairseq import models
from helpers import fairseq, python_module, shared_data

from fairseq_recipes.errors import RecipesError
from fairseq_recipes.eval.readers.mtop import read_mtop
from fairseq_recipes.eval.readers.sentinels import to_sentinels
from fairseq_recipes.eval.seq2seq import generated as generated_lines
from fairseq_recipes.preprocessing.vocab import WORD_SENTINELS
from fairseq_recipes.scoring.rouge import rouge
from fairseq_recipes.scoring.sciem import sciem
from fairseq_recipes.tasks.semantic_parsing import (
    SemanticParsingConfig,
    SemanticParsingTask,
)


def _task(data_bin, mtop, target_format="sentinels"):
    cfg = SemanticParsingConfig(
        data=str(data_bin),
        train_file=str(mtop / "en" / "train.txt"),
        target_format=target_format,
    )
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


@pytest.fixture(scope="module")
def real_mtop():
    """The released MTOP v2 files (first 200 records of each test and eval file)."""
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is not present")
    return root / "mtop"


REAL = [
    (lang, split)
    for lang in ("en", "de", "es", "fr", "hi", "th")
    for split in ("test", "eval")
]


def test_pointers_name_the_files_own_words_on_every_released_record(data_bin, real_mtop):
    task = _task(data_bin, real_mtop)
    spelt, checked = 0, 0
    for lang, split in REAL:
        for example in read_mtop(real_mtop / lang / f"{split}.txt"):
            source, target = task.encode(example)
            assert task.source_words(source) == [
                task.tokenizer.decode(task.tokenizer.encode(w)) for w in example.words
            ]
            # words the form spells go through SentencePiece; skip the one record
            # (Thai) whose spelled word it cannot spell
            others = [
                t
                for t in to_sentinels(example.words, example.logical_form).split()
                if t not in WORD_SENTINELS
            ]
            if any(task.tokenizer.decode(task.tokenizer.encode(t)) != t for t in others):
                continue
            checked += 1
            assert task.scored_text(target, source, words=example.words) == (
                example.logical_form
            )
            # as the input's ids spell them, pointed words lose what SentencePiece
            # normalizes or lacks (Hindi's precomposed nukta letters, all of Thai)
            spelt += task.scored_text(target, source) != example.logical_form
    assert checked == len(REAL) * 200 - 1 and spelt > 300


def test_recipes_finetune_scores_pointers_with_the_files_words(data_bin, real_mtop):
    """What recipes-finetune reads of fairseq-generate --keep-sentinels (H- lines, pieces
    and sentinels): a parser that points right scores 100, where the words its ids spell
    would not."""
    from fairseq_recipes.eval.seq2seq import pointed_forms

    task = _task(data_bin, real_mtop)
    args = argparse.Namespace(task="mtop", target_format="sentinels", data=str(data_bin))
    for lang in ("hi", "th"):
        examples = read_mtop(real_mtop / lang / "test.txt")
        encoded = [task.encode(e) for e in examples]
        output = "\n".join(
            f"S-{i}\t...\nH-{i}\t-0.25\t{task.dictionary.string(t)}"
            for i, (_, t) in enumerate(encoded)
        )
        hypotheses = generated_lines(output, "H")
        form = pointed_forms(args)
        predicted = [form(hypotheses[i], e) for i, e in enumerate(examples)]
        gold = [e.logical_form for e in examples]
        assert sciem(gold, predicted) >= (99.5 if lang == "th" else 100.0)
        spelled = [task.scored_text(t, s) for s, t in encoded]
        assert sciem(gold, spelled) < 95.0


def _model(checkpoint, data_bin, mtop, **options):
    args = argparse.Namespace(
        arch="recipes_seq2seq",
        _name="recipes_seq2seq",
        task="x",
        seq2seq_from=str(checkpoint),
        **options,
    )
    return models.build_model(args, _task(data_bin, mtop))


@pytest.mark.parametrize("name", ["bart-12e2d", "2stage-bart-12e12d-attn-f"])
def test_the_model_is_the_checkpoint_own(smoke, data_bin, mtop, name):
    path = smoke(name)[0] / "checkpoint_last.pt"
    state = torch.load(path, map_location="cpu", weights_only=False)
    before = torch.get_rng_state()
    model = _model(path, data_bin, mtop)
    # every weight comes from the checkpoint: none was drawn first (load_without_init)
    assert torch.equal(before, torch.get_rng_state())
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
        "fairseq_recipes.eval.finetune",
        "--checkpoint",
        checkpoint,
        "--evaluation",
        task,
        "--data",
        data_bin,
        "--train",
        train,
        "--valid",
        valid,
        "--test",
        *tests,
        "--output",
        output,
        "--seeds",
        "1",
        "--cpu",
        "--batch-size",
        "16",
        "--peak-lr",
        "1e-3",
        "--warmup-updates",
        "4",
        "--max-source-tokens",
        "128",
        "--max-target-tokens",
        "64",
        "--log-interval",
        "1",
        *extra,
    )


def test_mtop_fine_tunes_and_generates_with_beam_3(smoke, data_bin, mtop, tmp_path):
    bart = smoke("bart-12e2d")[0] / "checkpoint_last.pt"
    out = tmp_path / "mtop"
    tests = [f"{lang}={mtop / lang / 'test.txt'}" for lang in ("en", "de")]
    _finetune(
        bart,
        data_bin,
        out,
        "mtop",
        mtop / "en" / "train.txt",
        mtop / "en" / "eval.txt",
        tests,
        "--max-updates",
        "12",
    )
    log = (out / "seed1" / "train.log").read_text()
    # the paper's schedule: geometric warmup from 1e-7 to the peak over 4 updates
    lrs = [float(x) for x in re.findall(r"num_updates=\d+, lr=([\d.e-]+)", log)]
    assert lrs[:4] == pytest.approx(
        [1e-7 * (1e-3 / 1e-7) ** (u / 4) for u in (1, 2, 3, 4)]
    )
    assert "best_sciem" in log  # validation generated and scored SCIEM
    # the paper freezes the embeddings of the encoder tasks only: here they train
    tuned = torch.load(
        out / "seed1" / "checkpoints" / "checkpoint_best.pt",
        map_location="cpu",
        weights_only=False,
    )["model"]
    start = torch.load(bart, map_location="cpu", weights_only=False)["model"]
    assert not torch.equal(
        tuned["encoder.embed_tokens.weight"], start["encoder.embed_tokens.weight"]
    )
    metrics = json.loads((out / "seed1" / "metrics.json").read_text())
    assert metrics["metric"] == "sciem" and set(metrics["languages"]) == {"en", "de"}
    for lang in ("en", "de"):
        gold = [e.logical_form for e in read_mtop(mtop / lang / "test.txt")]
        rows = (out / "seed1" / "predictions" / f"{lang}.tsv").read_text().splitlines()
        assert [r.split("\t")[0] for r in rows] == gold
        hypotheses = [r.split("\t")[1] for r in rows]
        assert metrics["languages"][lang]["sciem"] == sciem(gold, hypotheses)
        # recipes-finetune reads the pointer form (--keep-sentinels): sentinels spaced
        generated = (out / "seed1" / f"generate-{lang}.txt").read_text().splitlines()
        assert sum(line.startswith("D-") for line in generated) == len(gold)
        targets = [line.split("\t")[1] for line in generated if line.startswith("T-")]
        assert targets and all(re.search(r"\[SL:\w+ <w\d+> \]", t) for t in targets)
        if lang != "de":
            continue
        # fairseq-generate by hand (sentinels mapped back to words on both sides) prints
        # the same SCIEM: these words are ones the SentencePiece model spells exactly
        by_hand = fairseq(
            "generate",
            data_bin,
            "--task",
            "recipes_semantic_parsing",
            "--train-file",
            mtop / "en" / "train.txt",
            "--test-file",
            mtop / "{lang}" / "test.txt",
            "--gen-subset",
            f"test.{lang}",
            "--path",
            out / "seed1" / "checkpoints" / "checkpoint_best.pt",
            "--beam",
            "3",
            "--batch-size",
            "32",
            "--max-source-tokens",
            "128",
            "--max-target-tokens",
            "64",
            "--max-len-a",
            "0",
            "--max-len-b",
            "64",
            "--scoring",
            "recipes_sciem",
            "--required-batch-size-multiple",
            "1",
            "--cpu",
        ).stdout.splitlines()
        assert all("<w" not in line for line in by_hand if line.startswith(("D-", "T-")))
        score = re.search(r"SCIEM ([\d.]+)", by_hand[-1])
        assert float(score.group(1)) == pytest.approx(
            metrics["languages"][lang]["sciem"], abs=0.01
        )
    assert metrics["avg_0s"] == metrics["languages"]["de"]["sciem"]
    for lang, n in metrics["examples"].items():  # the bootstrap over the test set
        low, high = metrics["intervals"][lang]["sciem"]
        assert low <= metrics["languages"][lang]["sciem"] <= high and n > 0
    again = _finetune(
        bart,
        data_bin,
        out,
        "mtop",
        mtop / "en" / "train.txt",
        mtop / "en" / "eval.txt",
        tests,
        "--max-updates",
        "12",
    )
    assert "seed 1: " in again.stdout and "exists, reused" in again.stdout


def test_mtop_fine_tunes_on_the_released_files(smoke, data_bin, real_mtop, tmp_path):
    """recipes-finetune in smoke mode on the real files: trained on the English eval
    split (it stands in for the train split, which the samples lack), validated and
    tested on prefixes of the real files (decoding is what takes time here), every
    language scored against the file's own forms, and each pointer read back as the
    file's word (Thai: none of its letters is in this SentencePiece model)."""
    bart = smoke("bart-12e2d")[0] / "checkpoint_last.pt"

    def prefix(lang, split, n):
        lines = (real_mtop / lang / f"{split}.txt").read_text("utf-8").splitlines()
        path = tmp_path / "files" / lang / f"{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
        return path

    out = tmp_path / "mtop"
    langs = ("en", "hi", "th")
    tests = [f"{lang}={prefix(lang, 'test', 24)}" for lang in langs]
    _finetune(
        bart,
        data_bin,
        out,
        "mtop",
        real_mtop / "en" / "eval.txt",
        prefix("en", "eval", 16),
        tests,
        "--max-updates",
        "8",
    )
    metrics = json.loads((out / "seed1" / "metrics.json").read_text())
    assert sorted(metrics["languages"]) == sorted(langs)
    assert all(0 <= m["sciem"] <= 100 for m in metrics["languages"].values())
    for lang in langs:
        examples = read_mtop(real_mtop / lang / "test.txt")[:24]
        rows = (out / "seed1" / "predictions" / f"{lang}.tsv").read_text().splitlines()
        assert [r.split("\t")[0] for r in rows] == [e.logical_form for e in examples]
        generated = (out / "seed1" / f"generate-{lang}.txt").read_text()
        pieces = generated_lines(generated, "H")
        for i, example in enumerate(examples):
            hypothesis = rows[i].split("\t")[1]
            for k in re.findall(r"<w(\d+)>", pieces[i]):
                if int(k) < len(example.words):  # the file's word, exactly
                    assert example.words[int(k)] in hypothesis.split()
            if "<unk>" not in pieces[i].split():
                assert "\u2047" not in hypothesis  # no "⁇" the model did not write


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
    from fairseq_recipes.eval.readers.xsum import read_xsum

    bart = smoke("bart-12e2d")[0] / "checkpoint_last.pt"
    train, test = xsum_files
    out = tmp_path / "xsum"
    _finetune(
        bart, data_bin, out, "xsum", train, train, [f"en={test}"], "--max-updates", "6"
    )
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
