"""Test helpers in the spirit of fairseq's tests/utils.py: tiny data, real CLIs."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from fairseq_recipes import train_log

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "fairseq_recipes"
SHARED_DATA = ROOT.parent / "shared" / "data"
TRAIN_SCRIPTS = ROOT / "train_scripts"

# the smoke scripts' shape (fairseq_recipes.recipes.SMOKE), as fairseq-train options
ENCODER_WIDTH = [
    "--encoder-embed-dim",
    64,
    "--encoder-ffn-embed-dim",
    128,
    "--encoder-attention-heads",
    4,
    "--tokens-per-sample",
    128,
]
DECODER_WIDTH = [
    "--decoder-embed-dim",
    64,
    "--decoder-ffn-embed-dim",
    128,
    "--decoder-attention-heads",
    4,
]


def shared_data():
    """``../shared/data`` beside the project root, or None when it is absent."""
    return SHARED_DATA if SHARED_DATA.is_dir() else None


def run(cmd, *, env=None, cwd=None, timeout=600, check=True):
    """Run a command; on failure show its output's tail in the assertion."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        raise AssertionError(f"exit {proc.returncode}: {' '.join(map(str, cmd))}\n{tail}")
    return proc


def python_module(module, *args, **kwargs):
    return run([sys.executable, "-m", module, *args], **kwargs)


def fairseq(entry, *args, **kwargs):
    """fairseq-train / fairseq-generate / fairseq-validate with the plugin loaded."""
    module = {
        "train": "fairseq_cli.train",
        "generate": "fairseq_cli.generate",
        "validate": "fairseq_cli.validate",
    }[entry]
    return python_module(module, *args, "--user-dir", PLUGIN, **kwargs)


def train_script(name, data, save_dir, *args, check=True, **env):
    """A train script in smoke mode; ``args`` go on to fairseq-train."""
    env = {
        "SMOKE": "1",
        "DATA": str(data),
        "SAVE_DIR": str(save_dir),
        "PYTHON": sys.executable,
        **{k: str(v) for k, v in env.items()},
    }
    return run(["bash", TRAIN_SCRIPTS / f"{name}.sh", *args], env=env, check=check)


def train_losses(log: str):
    """(num_updates, loss) of every train_inner record of a fairseq JSON log."""
    return train_log.train_losses(log)


def valid_losses(log: str):
    """{subset: last loss} of the validation records of a fairseq JSON log."""
    return {
        tag: train_log.valid_losses(log, tag)[-1][1]
        for tag in train_log.validation_tags(log)
    }


def final_updates(log: str) -> int:
    """The largest update count a fairseq JSON log reports."""
    return train_log.last_update(log)


# what the smoke checkpoints need at decoding time (fairseq-generate / fairseq-validate)
_SMOKE_DECODING = [
    "--task",
    "recipes_span_denoising",
    "--tokens-per-sample",
    "128",
    "--max-tokens",
    "4096",
    "--cpu",
    "--required-batch-size-multiple",
    "1",
]


def generate(data, checkpoint, *args):
    """fairseq-generate (beam 3, valid_en) of a smoke denoiser: (hypotheses, references)."""
    proc = fairseq(
        "generate",
        data,
        "--path",
        checkpoint,
        "--gen-subset",
        "valid_en",
        "--beam",
        "3",
        *_SMOKE_DECODING,
        *args,
    )
    lines = proc.stdout.splitlines()
    return [x for x in lines if x.startswith("H-")], [
        x for x in lines if x.startswith("T-")
    ]


def validate(data, checkpoint, subsets):
    """fairseq-validate of a smoke denoiser on ``subsets``: its whole output."""
    proc = fairseq(
        "validate",
        data,
        "--path",
        checkpoint,
        "--valid-subset",
        subsets,
        *_SMOKE_DECODING,
    )
    return proc.stdout + proc.stderr


# the header of XNLI-1.0's xnli.{dev,test}.tsv
XNLI_HEADER = (
    "language\tgold_label\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tpromptID\tpairID\t"
    "genre\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tsentence1_tokenized\t"
    "sentence2_tokenized\tmatch"
)


def xnli_row(lang, label, s1, s2):
    """A row of an XNLI-1.0 file (the real header's 19 columns)."""
    return "\t".join(
        [
            lang,
            label,
            "",
            "",
            "",
            "",
            s1,
            s2,
            "1",
            "2",
            "fiction",
            label,
            "",
            "",
            "",
            "",
            s1,
            s2,
            "True",
        ]
    )


def mtop_line(n, words, form, locale="en_XX", intent="IN:X"):
    """A line of an mTOP {train,eval,test}.txt (eight columns, tokens JSON with spans in
    UTF-8 bytes, as released)."""
    spans, start = [], 0
    for word in words:
        size = len(word.encode("utf-8"))
        spans.append({"start": start, "length": size})
        start += size + 1
    tokens = json.dumps({"tokens": list(words), "tokenSpans": spans})
    return "\t".join([str(n), intent, "", " ".join(words), "misc", locale, form, tokens])


def write_mtop(
    root,
    words,
    langs=("en", "de"),
    sizes=(("train", 96), ("eval", 16), ("test", 16)),
    seed=0,
):
    """A learnable mTOP-format set: the intent says whether the slot is the first or the
    last input word; ``root/{lang}/{split}.txt``."""
    rng = random.Random(seed)
    for lang in langs:
        for split, n in sizes:
            lines = []
            for i in range(n):
                utterance = rng.sample(words, rng.randint(3, 6))
                first = rng.random() < 0.5
                slot = utterance[0] if first else utterance[-1]
                intent = "IN:GET_FIRST" if first else "IN:GET_LAST"
                form = f"[{intent} [SL:ITEM {slot} ] ]"
                lines.append(mtop_line(i, utterance, form, f"{lang}_XX", intent))
            (root / lang).mkdir(parents=True, exist_ok=True)
            (root / lang / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def ud_release(root, ud):
    """A UD release directory built from the real treebanks of ``ud``
    (``../shared/data/ud``), linked, plus: a second English treebank, test-only
    (``UD_English-Copy``: EWT's dev file under another name), and an Arabic one released
    without word forms (``UD_Arabic-Formless``: PUD's test file, every FORM ``_``, as
    Arabic-NYUAD is released)."""
    root.mkdir(parents=True)
    for treebank in sorted(p for p in ud.iterdir() if p.is_dir()):
        (root / treebank.name).symlink_to(treebank, target_is_directory=True)
    (root / "UD_English-Copy").mkdir()
    (root / "UD_English-Copy" / "en_copy-ud-test.conllu").symlink_to(
        ud / "UD_English-EWT" / "en_ewt-ud-dev.conllu"
    )
    lines = []
    for line in (ud / "UD_Arabic-PUD" / "ar_pud-ud-test.conllu").read_text().split("\n"):
        cols = line.split("\t")
        if len(cols) == 10:
            cols[1] = "_"
        lines.append("\t".join(cols))
    (root / "UD_Arabic-Formless").mkdir()
    (root / "UD_Arabic-Formless" / "ar_formless-ud-test.conllu").write_text(
        "\n".join(lines), encoding="utf-8"
    )
    return root


def flop_counter():
    """torch's ``FlopCounterMode``, also counting the CPU attention kernels (forward and
    backward) that it has no formula for."""
    import torch
    from torch.utils import flop_counter as fc

    ops = torch.ops.aten

    def forward(query, key, value, *args, out_val=None, **kwargs):
        return fc.sdpa_flop_count(query, key, value)  # shapes, not tensors

    def backward(grad_out, query, key, value, *args, out_val=None, **kwargs):
        return fc.sdpa_backward_flop_count(grad_out, query, key, value)

    return fc.FlopCounterMode(
        display=False,
        custom_mapping={
            ops._scaled_dot_product_flash_attention_for_cpu: forward,
            ops._scaled_dot_product_flash_attention_for_cpu_backward: backward,
        },
    )
