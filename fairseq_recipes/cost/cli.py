"""``recipes-cost``: the paper's Table 1 (TU) beside FLOPs of the real shapes.

recipes-cost                         # terminal table, paper shapes, 250k vocabulary
recipes-cost --format markdown
recipes-cost --format json --hidden 768 --ffn 3072 --vocab 64000
recipes-cost --bill [--mfu 0.4]      # Table 1 in GPU-hours on A100 and H100
"""

import argparse
import json
import sys
from dataclasses import asdict

from tabulate import tabulate

from .. import paper
from ..atomic_files import write_text
from ..cli import command
from ..recipes import STAGES
from .bill import bill, bill_rows, bill_title, formula_rates
from .gpus import DEFAULT_MFU
from .table1 import Width, both_models_cost, disagreements, model_cost

FORMATS = {"table": "simple", "markdown": "github"}

MODEL_HEADERS = [
    "Model",
    "Enc. layers",
    "Dec. layers",
    "Enc. updates",
    "Dec. updates",
    "Frozen enc. updates",
    "TU by stage",
    "TU",
    "FLOPs",
    "FLOPs in TU",
]
BOTH_HEADERS = [
    "Both models",
    "Encoder",
    "Seq2seq",
    "TU by stage",
    "TU",
    "Saving",
    "FLOPs",
    "Saving by FLOPs",
]


#: after the name of a row that is not the paper's (recipe 3), and its footnote
NOT_IN_PAPER = "†"


def _updates(n: float) -> str:
    if n == 0:
        return "-"
    n = round(n)  # recipe 3's sampled schedule plans an expected number
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def _name(row: dict, key: str) -> str:
    return row[key] + ("" if row["in_paper"] else f" {NOT_IN_PAPER}")


def not_in_paper_note(tables: dict) -> str:
    """The footnote of the rows marked NOT_IN_PAPER (empty when there are none)."""
    rows = [m["model"] for m in tables["models"] if not m["in_paper"]]
    if not rows:
        return ""
    return (
        f"{NOT_IN_PAPER} Not in the paper: {', '.join(rows)} (recipe 3, MLM and span "
        "denoising trained jointly in one run, which the paper names as future work). "
        "Its TU are predicted from our settings (fairseq_recipes/recipe3.py), not taken "
        "from the paper."
    )


def _stages(parts) -> str:
    return " + ".join(f"{p['tu']:.1f}" for p in parts)


def cost_tables(width: Width) -> dict:
    return dict(
        width=asdict(width),
        tokens_per_update=paper.TOKENS_PER_UPDATE,
        models=[model_cost(name, width) for name in STAGES],
        both_models=both_models_cost(width),
        notes=disagreements(width),
    )


def render(tables: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(tables, indent=2)
    style = FORMATS[fmt]
    models = [
        [
            _name(m, "model"),
            m["encoder_layers"],
            m["decoder_layers"] or "-",
            _updates(m["encoder_updates"]),
            _updates(m["decoder_updates"]),
            _updates(m["encoder_frozen_updates"]),
            _stages(m["phases"]),
            f"{m['tu']:.1f}",
            f"{m['flops']:.3g}",
            f"{m['flops_in_tu']:.1f}",
        ]
        for m in tables["models"]
    ]
    both = [
        [
            _name(b, "way"),
            b["encoder"],
            b["seq2seq"],
            _stages(b["phases"]),
            f"{b['tu']:.1f}",
            f"{b['tu_saving']:.0%}",
            f"{b['flops']:.3g}",
            f"{b['flops_saving']:.0%}",
        ]
        for b in tables["both_models"]
    ]
    w = tables["width"]
    title = (
        f"Table 1. TU: the paper's estimate (1 TU = {paper.TU_UPDATES:,} updates of "
        f"{paper.TU_LAYERS} layers at {paper.TU_TOKENS_PER_UPDATE:,} tokens per update, "
        f"a frozen layer {paper.FROZEN_LAYER_COST:g}). FLOPs: matrix products of the real "
        f"shapes, width {w['hidden']}, FFN {w['ffn']}, vocabulary {w['vocab']:,}, "
        f"{w['tokens_per_sample']}-token blocks."
    )
    bullet = "- " if fmt == "markdown" else "* "
    return "\n\n".join(
        [
            title,
            tabulate(models, MODEL_HEADERS, tablefmt=style, disable_numparse=True),
            tabulate(both, BOTH_HEADERS, tablefmt=style, disable_numparse=True),
            not_in_paper_note(tables),
            "\n".join(bullet + note for note in tables["notes"]),
        ]
    )


def render_bill(b: dict, fmt: str, source: str = "by the formula") -> str:
    if fmt == "json":
        return json.dumps(b, indent=2)
    (mh, models), (wh, ways) = bill_rows(b)
    style = FORMATS[fmt]
    return "\n\n".join(
        [
            bill_title(b, source),
            tabulate(models, mh, tablefmt=style, disable_numparse=True),
            tabulate(ways, wh, tablefmt=style, disable_numparse=True),
        ]
    )


def ledger_table(paths, fmt: str) -> str:
    """The compute each checkpoint's run consumed, as its ledger counted it."""
    from ..checkpoints import encoder_state
    from .ledger import checkpoint_cost

    rows = []
    for path in paths:
        state = encoder_state.load(path)  # one-line errors for a missing or bad file
        updates = (state.get("optimizer_history") or [{}])[-1].get("num_updates", 0)
        ledger = checkpoint_cost(state)
        rows.append(dict(checkpoint=path, updates=updates, **asdict(ledger)))
    if fmt == "json":
        return json.dumps(rows, indent=2)
    table = [
        [
            r["checkpoint"],
            r["updates"],
            f"{r['tokens']:,}",
            f"{r['tu']:.4g}",
            f"{r['flops']:.4g}",
        ]
        for r in rows
    ]
    headers = ["Checkpoint", "Updates", "Tokens", "TU", "FLOPs"]
    return tabulate(table, headers, tablefmt=FORMATS[fmt], disable_numparse=True)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be positive")
    return value


@command
def cli_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="recipes-cost",
        description="Table 1: the compute cost of every model and recipe, in the "
        "paper's Training Units and in FLOPs of the real shapes.",
    )
    parser.add_argument(
        "--format", choices=["table", "markdown", "json"], default="table"
    )
    parser.add_argument("--output", help="write here (atomically) instead of stdout")
    parser.add_argument(
        "--checkpoints",
        nargs="+",
        metavar="CHECKPOINT",
        help="instead of Table 1, what the runs of these checkpoints consumed so far "
        "(the live ledger saved in them)",
    )
    parser.add_argument(
        "--bill",
        action="store_true",
        help="instead of Table 1, its GPU bill: every model and way in GPU-hours on "
        "A100 and H100 (cost/gpus.py) from the formula's FLOPs at the shape below",
    )
    parser.add_argument(
        "--mfu",
        type=float,
        default=DEFAULT_MFU,
        help="model-FLOP utilisation the bill assumes (default: %(default)s)",
    )
    shape = parser.add_argument_group("shape of the FLOP view (default: the paper's)")
    shape.add_argument("--hidden", type=_positive, default=paper.HIDDEN)
    shape.add_argument("--ffn", type=_positive, default=paper.FFN)
    shape.add_argument("--vocab", type=_positive, default=paper.VOCAB)
    shape.add_argument(
        "--tokens-per-sample", type=_positive, default=paper.TOKENS_PER_SAMPLE
    )
    args = parser.parse_args(argv)
    if args.tokens_per_sample < 3:
        parser.error("--tokens-per-sample: a block needs <s>, </s> and one token")
    if not 0 < args.mfu <= 1:
        parser.error(f"--mfu {args.mfu}: a utilisation in (0, 1]")
    if args.checkpoints:
        text = ledger_table(args.checkpoints, args.format) + "\n"
    elif args.bill:
        width = Width(args.hidden, args.ffn, args.vocab, args.tokens_per_sample)
        text = render_bill(bill(formula_rates(width), args.mfu), args.format) + "\n"
    else:
        width = Width(args.hidden, args.ffn, args.vocab, args.tokens_per_sample)
        text = render(cost_tables(width), args.format) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return
    write_text(args.output, text)


if __name__ == "__main__":
    cli_main()
