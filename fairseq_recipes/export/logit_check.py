"""Check an export against fairseq: the same logits on real text, within a stated tolerance.

    python -m fairseq_recipes.export.logit_check --checkpoint CKPT --hf DIR --data DATA \\
        --corpus CORPUS --output check.json

The batch: the first lines of every ``{lang}.txt`` of ``--corpus`` (different lengths, so
the batch is padded), encoded by the export's own tokenizer, which must give the fairseq
pipeline's ids (``SpmTokenizer`` of ``--data``, with ``<s>`` and ``</s>``). An MLM model is
compared on its logits at every position; a seq2seq model under teacher forcing (source:
a line; target: the next language's line, ``</s>`` first as fairseq's decoder input).

What "equal" means at the paper's width: both are float32 computations of one function
with different summation orders (fused attention, separate q/k/v, another layer-norm
kernel), so they differ by rounding that grows with depth and width. The check runs the
fairseq model a second time in float64 and reports how far each float32 computation is
from it. The export passes when its logits are within ``--tolerance`` (absolute, default
1e-4) of fairseq's float32 ones at every non-padding position, *and* no farther from the
float64 reference than ``--rounding-factor`` (4) times fairseq's own float32 error plus
1e-6: an export that computes the same function is as exact as fairseq itself; a wrong
weight or layer norm is off by orders of magnitude more.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from ..atomic_files import write_text
from ..cli import command
from ..errors import RecipesError

TOLERANCE = 1e-4
ROUNDING_FACTOR = 4.0
#: characters of each corpus line used (a few dozen pieces)
LINE_CHARS = 200


def corpus_lines(corpus: Path, per_lang: int) -> list:
    lines = []
    for path in sorted(Path(corpus).glob("*.txt")):
        text = path.read_text(encoding="utf-8").splitlines()
        lines += [x[:LINE_CHARS] for x in text if x.strip()][:per_lang]
    if not lines:
        raise RecipesError(f"{corpus}: no {{lang}}.txt lines to compare on")
    return lines


def _max_diff(a, b, mask) -> float:
    return (a[mask].double() - b[mask].double()).abs().max().item()


def check(
    checkpoint,
    hf_dir,
    data,
    corpus,
    per_lang=2,
    tolerance=TOLERANCE,
    rounding_factor=ROUNDING_FACTOR,
) -> dict:
    import torch
    import transformers
    from fairseq import checkpoint_utils

    from ..preprocessing.vocab import SpmTokenizer, load_dictionary

    data = Path(data)
    texts = corpus_lines(corpus, per_lang)
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    dictionary = load_dictionary(data / "dict.txt")
    spm = SpmTokenizer(data / "spm.model", dictionary)
    for text in texts:  # the export's tokenizer is the fairseq pipeline's
        ours = tokenizer(text)["input_ids"]
        theirs = [dictionary.bos(), *spm.encode(text).tolist(), dictionary.eos()]
        if ours != theirs:
            raise RecipesError(
                f"{hf_dir}: its tokenizer gives other ids than the data's "
                f"on {text[:40]!r}"
            )
    config = transformers.AutoConfig.from_pretrained(hf_dir)
    seq2seq = config.is_encoder_decoder
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    if seq2seq:
        target = tokenizer(texts[1:] + texts[:1], padding=True, add_special_tokens=False)[
            "input_ids"
        ]
        eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
        rows = [[eos] + [t for t in row if t != pad] for row in target]
        width = max(map(len, rows))
        prev = torch.tensor([row + [pad] * (width - len(row)) for row in rows])
        mask = prev != pad
    else:
        mask = batch["attention_mask"].bool()
    with torch.no_grad():
        auto = (
            transformers.AutoModelForSeq2SeqLM
            if seq2seq
            else transformers.AutoModelForMaskedLM
        )
        hf = auto.from_pretrained(hf_dir).eval()
        exported = (
            hf(**batch, decoder_input_ids=prev) if seq2seq else hf(**batch)
        ).logits
        del hf  # the fairseq model in float64 needs the room

        models, _ = checkpoint_utils.load_model_ensemble([str(checkpoint)])
        model = models[0].eval()

        def fairseq_logits():
            if seq2seq:
                lengths = batch["attention_mask"].sum(1)
                return model(batch["input_ids"], lengths, prev)[0]
            return model(batch["input_ids"])[0]

        reference = fairseq_logits()
        model.double()
        exact = fairseq_logits()
    result = dict(
        checkpoint=str(checkpoint),
        export=str(hf_dir),
        kind="seq2seq" if seq2seq else "mlm",
        sequences=len(texts),
        positions=int(mask.sum()),
        vocab=int(exported.shape[-1]),
        logit_std=reference[mask].std().item(),
        logit_max_abs=reference[mask].abs().max().item(),
        export_vs_fairseq=_max_diff(exported, reference, mask),
        fairseq_fp32_vs_fp64=_max_diff(reference, exact, mask),
        export_fp32_vs_fp64=_max_diff(exported, exact, mask),
        tolerance=tolerance,
        rounding_factor=rounding_factor,
    )
    bound = rounding_factor * result["fairseq_fp32_vs_fp64"] + 1e-6
    result["passed"] = (
        result["export_vs_fairseq"] <= tolerance
        and result["export_fp32_vs_fp64"] <= bound
    )
    return result


@command
def cli_main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_recipes.export.logit_check",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--checkpoint", required=True, help="the fairseq checkpoint")
    parser.add_argument("--hf", required=True, help="its recipes-export-hf directory")
    parser.add_argument("--data", required=True, help="folder with dict.txt, spm.model")
    parser.add_argument("--corpus", required=True, help="folder of {lang}.txt files")
    parser.add_argument("--lines-per-lang", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    parser.add_argument("--rounding-factor", type=float, default=ROUNDING_FACTOR)
    parser.add_argument("--output", help="write the figures here (JSON)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import fairseq_recipes  # noqa: F401  (weights-only loading of fairseq checkpoints)

    result = check(
        args.checkpoint,
        args.hf,
        args.data,
        args.corpus,
        args.lines_per_lang,
        args.tolerance,
        args.rounding_factor,
    )
    if args.output:
        write_text(args.output, json.dumps(result, indent=2))
    print(
        f"{result['kind']} logits of {result['sequences']} sequences x "
        f"{result['vocab']:,}: export vs fairseq (fp32) {result['export_vs_fairseq']:.2e}; "
        f"vs float64: fairseq {result['fairseq_fp32_vs_fp64']:.2e}, export "
        f"{result['export_fp32_vs_fp64']:.2e} (logit std {result['logit_std']:.3g}): "
        + ("passed" if result["passed"] else f"FAILED (tolerance {args.tolerance:g})")
    )
    if not result["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    cli_main()
