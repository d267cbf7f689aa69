"""recipes-export-hf: the smoke models of every exportable kind, loaded back with
transformers' Auto classes offline, compute fairseq's logits (1e-4), generate
fairseq-generate's tokens with beam 3, and tokenize as the fairseq pipeline does."""

import filecmp
import json
import os
import random
import shutil
import sys

import pytest
import torch
import transformers
from helpers import ROOT, mtop_line, python_module, run, train_script

from fairseq_recipes.data.finetune.encoding import pair_pieces
from fairseq_recipes.eval.readers.mtop import read_mtop
from fairseq_recipes.preprocessing.vocab import (
    DOC_SEP,
    MASK,
    WORD_SENTINELS,
    SpmTokenizer,
    load_dictionary,
)
from fairseq_recipes.recipes import STAGES

TOLERANCE = 1e-4
PROBE = ROOT / "tools" / "probes"
#: a recipe's smoke model -> (transformers class, output projection tied to the input
#: embeddings); recipe 1's encoder and recipe 2's model train an untied one
KINDS = {
    "roberta-12e": ("RobertaPreLayerNormForMaskedLM", True),
    "bart-12e12d+mlm": ("RobertaPreLayerNormForMaskedLM", False),
    "bart-12e2d": ("MBartForConditionalGeneration", True),
    "bart-12e1d-mask": ("MBartForConditionalGeneration", True),
    "bart-12e12d": ("MBartForConditionalGeneration", True),
    "2stage-bart-12e12d": ("MBartForConditionalGeneration", False),
    "2stage-bart-12e12d-unfrz": ("MBartForConditionalGeneration", False),
}


def _export(checkpoint, output, *args, check=True):
    return python_module(
        "fairseq_recipes.export.hf_export",
        "--checkpoint",
        checkpoint,
        "--output",
        output,
        *args,
        check=check,
    )


@pytest.fixture(scope="module")
def exported(smoke, tmp_path_factory):
    """name -> (fairseq checkpoint, exported directory), exported once per module."""
    root, done = tmp_path_factory.mktemp("hf"), {}

    def get(name):
        if name not in done:
            checkpoint = smoke(name)[0] / "checkpoint_last.pt"
            _export(checkpoint, root / name)
            done[name] = (checkpoint, root / name)
        return done[name]

    return get


def _fairseq_model(checkpoint):
    from fairseq import checkpoint_utils

    models, _ = checkpoint_utils.load_model_ensemble([str(checkpoint)])
    return models[0].eval()


def _texts(raw_corpus, per_lang=2):
    """A few lines of every language of the corpus (different lengths: padding)."""
    texts = []
    for path in sorted(raw_corpus.glob("*.txt")):
        lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        texts += [x[:200] for x in lines[:per_lang]]
    return texts


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Everything loads from the exported directory: no hub (this machine has none)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _assert_same_logits(logits, reference, mask):
    """Equal within TOLERANCE at the unmasked positions, and logits that vary far more
    than that (the comparison has teeth)."""
    assert logits.shape == reference.shape
    assert (logits[mask] - reference[mask]).abs().max().item() < TOLERANCE
    assert (reference[mask].std() > 100 * TOLERANCE).item()


def _loaded(exported, name, auto_class):
    """(checkpoint, tokenizer, model) of an exported smoke model, loaded by the Auto
    classes as the class ``KINDS`` names, tied or untied as it says."""
    checkpoint, out = exported(name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    model = auto_class.from_pretrained(out).eval()
    cls, tied = KINDS[name]
    assert type(model).__name__ == cls and model.config.tie_word_embeddings is tied
    return checkpoint, tokenizer, model


@pytest.mark.parametrize(
    "name",
    [n for n, (cls, _) in KINDS.items() if cls == "RobertaPreLayerNormForMaskedLM"],
)
def test_mlm_logits_equal_fairseq(exported, raw_corpus, name):
    checkpoint, tokenizer, model = _loaded(
        exported, name, transformers.AutoModelForMaskedLM
    )
    tied = KINDS[name][1]
    embed = model.get_input_embeddings().weight
    assert torch.equal(model.lm_head.decoder.weight, embed) is tied
    batch = tokenizer(
        _texts(raw_corpus), padding=True, truncation=True, return_tensors="pt"
    )
    ids, mask = batch["input_ids"], batch["attention_mask"].bool()
    assert (~mask).any()  # the batch is padded
    fairseq_model = _fairseq_model(checkpoint)
    with torch.no_grad():
        reference = fairseq_model(ids)[0]
        logits = model(**batch).logits
    _assert_same_logits(logits, reference, mask)


def _teacher_forcing(tokenizer, sources, targets):
    batch = tokenizer(sources, padding=True, return_tensors="pt")
    target = tokenizer(targets, padding=True, add_special_tokens=False)["input_ids"]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    # fairseq's prev_output_tokens: </s> then the target, right-padded
    rows = [[eos] + [t for t in row if t != pad] for row in target]
    width = max(map(len, rows))
    prev = torch.tensor([row + [pad] * (width - len(row)) for row in rows])
    return batch, prev


@pytest.mark.parametrize(
    "name", [n for n, (cls, _) in KINDS.items() if cls == "MBartForConditionalGeneration"]
)
def test_seq2seq_logits_equal_fairseq_under_teacher_forcing(exported, raw_corpus, name):
    auto = transformers.AutoModelForSeq2SeqLM
    checkpoint, tokenizer, model = _loaded(exported, name, auto)
    tied = KINDS[name][1]
    fairseq_model = _fairseq_model(checkpoint)
    assert model.config.decoder_layers == len(fairseq_model.decoder.layers)
    assert model.config.encoder_layers == len(fairseq_model.encoder.layers)
    projection = fairseq_model.decoder.output_projection.weight
    assert torch.equal(model.lm_head.weight, projection)
    assert torch.equal(model.get_input_embeddings().weight, projection) is tied
    texts = _texts(raw_corpus)
    batch, prev = _teacher_forcing(tokenizer, texts, texts[1:] + texts[:1])
    mask = prev != tokenizer.pad_token_id
    assert (~mask).any() and (batch["attention_mask"] == 0).any()
    with torch.no_grad():
        lengths = batch["attention_mask"].sum(1)
        reference = fairseq_model(batch["input_ids"], lengths, prev)[0]
        logits = model(**batch, decoder_input_ids=prev).logits
    _assert_same_logits(logits, reference, mask)


def _without(source, output, prefixes, **model_args):
    """A copy of a fairseq checkpoint without the tensors under ``prefixes``, with
    ``model_args`` changed: what another configuration would have saved."""
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(source))
    state["model"] = {
        k: v for k, v in state["model"].items() if not k.startswith(prefixes)
    }
    for name, value in model_args.items():
        setattr(state["cfg"]["model"], name, value)
    torch.save(state, output)
    return output


def test_a_missing_layer_norm_is_refused(smoke, tmp_path):
    """A model trained without --layernorm-embedding: mBART always applies that layer
    norm, and one of weight 1 and bias 0 still normalizes, so no stock export exists."""
    source = smoke("bart-12e1d-mask")[0] / "checkpoint_last.pt"
    checkpoint = _without(
        source,
        tmp_path / "no_layernorm_embedding.pt",
        ("encoder.layernorm_embedding.", "decoder.layernorm_embedding."),
        layernorm_embedding=False,
    )
    fairseq_model = _fairseq_model(checkpoint)  # a valid fairseq model
    assert fairseq_model.encoder.layernorm_embedding is None
    proc = _export(checkpoint, tmp_path / "hf", check=False)
    assert proc.returncode == 2 and not (tmp_path / "hf").exists()
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {checkpoint}: the model has no layer norm encoder.layernorm_embedding "
        "(trained without --layernorm-embedding?); MBartForConditionalGeneration always "
        "applies one, and one of weight 1 and bias 0 still normalizes, so the export "
        "would compute another function"
    )


# ---- generation: mTOP parsers that read their input, so beams differ between inputs --


@pytest.fixture(scope="module")
def city_mtop(corpus_words, tmp_path_factory):
    """mTOP files whose slot is the one "city" (of 4) among 2-5 other words: a parser
    must read the input to spell it, so its hypotheses differ from input to input."""
    root = tmp_path_factory.mktemp("mtop_city") / "en"
    root.mkdir()
    cities, others = corpus_words[:4], corpus_words[4:]
    rng = random.Random(0)
    for split, n in (("train", 96), ("eval", 16), ("test", 16)):
        lines = []
        for i in range(n):
            words, city = rng.sample(others, rng.randint(2, 5)), rng.choice(cities)
            words.insert(rng.randint(0, len(words)), city)
            form = f"[IN:GET_WEATHER [SL:LOCATION {city} ] ]"
            lines.append(mtop_line(i, words, form, "en_XX", "IN:GET_WEATHER"))
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


#: the generation tests' pre-trained models: the smoke scripts with 2-layer stacks (a
#: 12-layer smoke model fine-tuned as briefly learns the targets' prior, not the input)
NARROW = {
    "roberta-12e": ["--encoder-layers", 2],
    "bart-12e2d": ["--encoder-layers", 2],
    "2stage-bart-12e12d": ["--encoder-layers", 2, "--decoder-layers", 2],
}


@pytest.fixture(scope="module")
def parsers(data_bin, city_mtop, tmp_path_factory):
    """name -> the train script's model, narrow, fine-tuned on ``city_mtop`` (600
    updates, target format words); recipe 2 warm-started from a narrow roberta-12e."""
    root, done = tmp_path_factory.mktemp("parsers"), {}

    def pretrained(name):
        save_dir = root / "pretrained" / name
        if not save_dir.exists():
            init = STAGES[name].init_from
            env = {"INIT": pretrained(init)} if init else {}
            train_script(name, data_bin, save_dir, *NARROW[name], **env)
        return save_dir / "checkpoint_last.pt"

    def get(name):
        if name not in done:
            out = root / name
            python_module(
                "fairseq_recipes.eval.finetune",
                "--checkpoint",
                pretrained(name),
                "--evaluation",
                "mtop",
                "--data",
                data_bin,
                "--train",
                city_mtop / "train.txt",
                "--valid",
                city_mtop / "eval.txt",
                "--test",
                f"en={city_mtop / 'eval.txt'}",
                "--output",
                out,
                "--seeds",
                "1",
                "--cpu",
                "--batch-size",
                "16",
                "--peak-lr",
                "3e-3",
                "--warmup-updates",
                "4",
                "--max-updates",
                "600",
                "--epochs",
                "200",
                "--max-source-tokens",
                "128",
                "--max-target-tokens",
                "64",
                "--target-format",
                "words",
            )
            done[name] = out / "seed1" / "checkpoints" / "checkpoint_best.pt"
        return done[name]

    return get


def _fairseq_generate(checkpoint, data_bin, mtop, tmp_path):
    """fairseq-generate --beam 3 --nbest 3 on the test set: per sample id, the three
    hypotheses as (token ids, score), best first."""
    probe = tmp_path / "hypotheses.jsonl"
    run(
        [
            sys.executable,
            "-m",
            "fairseq_cli.generate",
            data_bin,
            "--user-dir",
            ROOT / "fairseq_recipes",
            "--path",
            checkpoint,
            "--task",
            "recipes_semantic_parsing",
            "--train-file",
            mtop / "train.txt",
            "--test-file",
            mtop / "test.txt",
            "--gen-subset",
            "test.en",
            "--target-format",
            "words",
            "--beam",
            "3",
            "--nbest",
            "3",
            "--batch-size",
            "8",
            "--required-batch-size-multiple",
            "1",
            "--max-source-tokens",
            "128",
            "--max-target-tokens",
            "64",
            "--cpu",
        ],
        env={"PYTHONPATH": str(PROBE), "RECIPES_GENERATE_PROBE": str(probe)},
    )
    found = {}
    for row in map(json.loads, probe.read_text().splitlines()):
        found.setdefault(row["id"], []).append((row["rank"], row["tokens"], row["score"]))
    return {i: [(t, s) for _, t, s in sorted(rows)] for i, rows in found.items()}


@pytest.mark.parametrize("name", ["bart-12e2d", "2stage-bart-12e12d"])
def test_generate_beam_3_equals_fairseq_generate(
    parsers, data_bin, city_mtop, tmp_path, name
):
    checkpoint = parsers(name)
    _export(checkpoint, tmp_path / "hf")
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "hf").eval()
    assert model.config.tie_word_embeddings is KINDS[name][1]
    reference = _fairseq_generate(checkpoint, data_bin, city_mtop, tmp_path)
    examples = read_mtop(city_mtop / "test.txt")
    assert sorted(reference) == list(range(len(examples)))
    sources = [" ".join(e.words) for e in examples]  # the task's input, as text
    batch = tokenizer(sources, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(
            **batch,
            num_beams=3,
            num_return_sequences=3,
            output_scores=True,
            return_dict_in_generate=True,
        )
    pad = tokenizer.pad_token_id
    tokens = [[t for t in row[1:].tolist() if t != pad] for row in out.sequences]
    scores = out.sequences_scores.tolist()
    for i in range(len(examples)):
        ours = list(zip(tokens[3 * i : 3 * i + 3], scores[3 * i : 3 * i + 3]))
        assert [t for t, _ in ours] == [t for t, _ in reference[i]], i
        assert [s for _, s in ours] == pytest.approx(
            [s for _, s in reference[i]], abs=TOLERANCE
        )
    # the parsers learned the task and read their input (so the equality above covers
    # cross-attention): the best hypotheses differ between inputs, in words or in score
    # (a narrow warm-started parser may name one city for all at 600 updates; its
    # scores still depend on the input through cross-attention)
    best = [
        (
            tokenizer.decode(reference[i][0][0], skip_special_tokens=True),
            reference[i][0][1],
        )
        for i in range(len(examples))
    ]
    assert len(set(best)) >= 2 and all(b.startswith("[IN:GET_WEATHER") for b, _ in best)


# ---- tokenizer ------------------------------------------------------------------------


def test_tokenizer_ids_equal_the_fairseq_pipeline(exported, data_bin, raw_corpus, mtop):
    _, out = exported("roberta-12e")
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    dictionary = load_dictionary(data_bin / "dict.txt")
    spm = SpmTokenizer(data_bin / "spm.model", dictionary)
    bos, eos = dictionary.bos(), dictionary.eos()
    texts = _texts(raw_corpus, per_lang=20)
    langs = {p.stem for p in raw_corpus.glob("*.txt")}
    assert len(langs) >= 4 and len(texts) >= 80
    for text in texts:
        assert tokenizer(text)["input_ids"] == [bos, *spm.encode(text).tolist(), eos]
    # sentence pairs as the XNLI task lays them out: <s> A </s> </s> B </s>
    for first, second in zip(texts[::2], texts[1::2]):
        expected = pair_pieces(
            0, spm.encode(first), spm.encode(second), 10_000, bos, eos
        )[0]
        assert tokenizer(first, second)["input_ids"] == expected.tokens.tolist()
    # every symbol keeps its fairseq id
    assert tokenizer.convert_ids_to_tokens(list(range(len(dictionary)))) == list(
        dictionary.symbols
    )
    for symbol in (MASK, DOC_SEP, *WORD_SENTINELS):
        assert tokenizer.convert_tokens_to_ids(symbol) == dictionary.index(symbol)
    assert (
        tokenizer.bos_token_id,
        tokenizer.pad_token_id,
        tokenizer.eos_token_id,
        tokenizer.unk_token_id,
        tokenizer.mask_token_id,
    ) == (bos, dictionary.pad(), eos, dictionary.unk(), dictionary.index(MASK))
    # the mTOP task's sentinel-marked input, typed as text
    from fairseq_recipes.tasks.semantic_parsing import (
        SemanticParsingConfig,
        SemanticParsingTask,
    )

    task = SemanticParsingTask.setup_task(
        SemanticParsingConfig(
            data=str(data_bin), train_file=str(mtop / "en" / "train.txt")
        )
    )
    for example in read_mtop(mtop / "en" / "test.txt"):
        source, _ = task.encode(example)
        text = " ".join(f"{WORD_SENTINELS[i]} {w}" for i, w in enumerate(example.words))
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == source.tolist()


# ---- the command ----------------------------------------------------------------------


def test_reexport_is_byte_identical(exported, tmp_path):
    checkpoint, first = exported("2stage-bart-12e12d")
    _export(checkpoint, tmp_path / "again")
    comparison = filecmp.dircmp(first, tmp_path / "again")
    assert sorted(os.listdir(first)) == sorted(os.listdir(tmp_path / "again"))
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    } <= set(os.listdir(first))
    names = comparison.common_files
    _, mismatch, errors = filecmp.cmpfiles(
        first, tmp_path / "again", names, shallow=False
    )
    assert not mismatch and not errors
    # --overwrite replaces the directory with the same bytes
    proc = _export(checkpoint, tmp_path / "again", "--overwrite")
    assert "MBartForConditionalGeneration (12+12 layers" in proc.stdout
    _, mismatch, _ = filecmp.cmpfiles(first, tmp_path / "again", names, shallow=False)
    assert not mismatch


def test_generation_defaults_are_fairseq_generate_s(exported):
    _, out = exported("bart-12e2d")
    config = transformers.GenerationConfig.from_pretrained(out)
    model_config = transformers.AutoConfig.from_pretrained(out)
    positions = model_config.max_position_embeddings
    assert (config.num_beams, config.length_penalty, config.early_stopping) == (
        5,
        1.0,
        True,
    )
    assert config.decoder_start_token_id == config.eos_token_id == 2
    assert config.max_length == min(200, positions - 1) + 2 and config.min_length == 2
    assert config.suppress_tokens == [config.pad_token_id] == [1]


def test_attention_fusion_is_refused(smoke, tmp_path):
    checkpoint = smoke("2stage-bart-12e12d-attn-f")[0] / "checkpoint_last.pt"
    proc = _export(checkpoint, tmp_path / "hf", check=False)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: {checkpoint}: an " "attention-fusion model")
    )
    assert not (tmp_path / "hf").exists() and os.listdir(tmp_path) == []


def test_bad_input_is_one_line_and_destroys_nothing(exported, smoke, tmp_path):
    checkpoint, _ = exported("roberta-12e")
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    headless = _without(checkpoint, tmp_path / "headless.pt", ("encoder.lm_head.",))
    cases = [
        ([tmp_path / "missing.pt", tmp_path / "a"], "no such checkpoint file"),
        ([headless, tmp_path / "c"], "no MLM head (encoder.lm_head.*): a fine-tuned"),
        ([checkpoint, existing], "exists (pass --overwrite to replace it)"),
        ([checkpoint, tmp_path / "b", "--data", tmp_path], "no dict.txt and spm.model"),
    ]
    for (path, output, *extra), message in cases:
        proc = _export(path, output, *extra, check=False)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and lines[-1].startswith("error: ")
        assert message in lines[-1]
    assert os.listdir(existing) == ["keep.txt"]
    assert sorted(os.listdir(tmp_path)) == ["existing", "headless.pt"]


def test_without_transformers_the_command_says_how_to_install_it(exported, tmp_path):
    checkpoint, _ = exported("roberta-12e")
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "from fairseq_recipes.export.hf_export import cli_main\n"
        "cli_main(sys.argv[1:])"
    )
    proc = run(
        [
            sys.executable,
            "-c",
            code,
            "--checkpoint",
            checkpoint,
            "--output",
            tmp_path / "hf",
        ],
        check=False,
    )
    assert proc.returncode == 2 and not (tmp_path / "hf").exists()
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: transformers is not installed: pip install 'fairseq_recipes[hf]'"
    )


def test_dtype_casts_the_weights_and_nothing_else(exported, tmp_path):
    checkpoint, full = exported("roberta-12e")
    _export(checkpoint, tmp_path / "bf16", "--dtype", "bfloat16")
    auto = transformers.AutoModelForMaskedLM
    half = auto.from_pretrained(tmp_path / "bf16", dtype=torch.bfloat16).state_dict()
    reference = auto.from_pretrained(full).state_dict()
    assert half.keys() == reference.keys()
    for name, tensor in half.items():
        assert tensor.dtype == torch.bfloat16 or not tensor.is_floating_point()
        assert torch.equal(tensor, reference[name].to(tensor.dtype)), name
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "bf16" / name).read_bytes() == (full / name).read_bytes()


@pytest.mark.parametrize("name", ["roberta-12e", "2stage-bart-12e12d-unfrz"])
def test_the_logit_check_passes_an_export_and_fails_a_changed_one(
    exported, data_bin, raw_corpus, tmp_path, name
):
    """``export/logit_check.py`` (the rehearsal's check of the export at the paper's
    width): passes the export, with the export as close to fairseq's float64 logits as
    fairseq's own float32 ones; fails it with one layer norm's bias moved by 1e-3."""
    checkpoint, out = exported(name)
    args = ["--checkpoint", checkpoint, "--data", data_bin, "--corpus", raw_corpus]
    proc = python_module(
        "fairseq_recipes.export.logit_check",
        *args,
        "--hf",
        out,
        "--output",
        tmp_path / "check.json",
    )
    result = json.loads((tmp_path / "check.json").read_text())
    assert result["passed"] and proc.stdout.strip().endswith("passed")
    assert result["export_vs_fairseq"] < TOLERANCE < result["logit_std"] / 100
    assert result["fairseq_fp32_vs_fp64"] > 0  # float32 rounding is visible
    from safetensors.torch import load_file, save_file

    changed = tmp_path / "changed"
    shutil.copytree(out, changed)
    stored = load_file(changed / "model.safetensors")
    key = next(
        k for k in sorted(stored) if k.endswith(("layer_norm.bias", "LayerNorm.bias"))
    )
    stored[key] = stored[key] + 1e-3
    save_file(stored, changed / "model.safetensors", metadata={"format": "pt"})
    proc = python_module(
        "fairseq_recipes.export.logit_check", *args, "--hf", changed, check=False
    )
    assert proc.returncode == 1 and "FAILED" in proc.stdout
