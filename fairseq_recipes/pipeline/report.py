"""The main job's report: ``WORK/results/report.md`` with every table and figure.

* Table 1 twice: the paper's scale (TU, as ``recipes-cost`` prints it) and this run's:
  per model, the cost predicted from its configuration (updates x tokens per update,
  freeze schedule, real width) beside what its compute ledger measured (``cost/ledger.py``:
  the real batches), in TU and FLOPs; and per way to get both models, the sum over the
  stages behind them;
* Tables 2 and 3 and the per-language tables (``eval/report.py``);
* figures: ``loss.png`` (pre-training loss of every model against updates; recipe 3's
  joint run on both panels, its MLM loss and its span-denoising loss), ``cost.png``
  (TU of each way to get both models, by stage, paper and this run), and the per-language
  charts of ``eval/report.py``.

Recipe 3 (``bart-12e12d-joint``) is not in the paper: its rows are marked ``†`` in every
table (its "paper" cost is our prediction from ``recipe3.py``).

Rebuilt from whatever exists: a model not trained yet has empty cells.
"""

import json
import re
from dataclasses import replace
from pathlib import Path

from .. import train_log
from ..atomic_files import write_text
from ..cost.flops import phase_flops, stage_shape
from ..cost.table1 import Width, both_models_cost, model_cost
from ..cost.training_units import phases
from ..data.objective_schedule import DENOISING, MLM, OBJECTIVES
from ..errors import RecipesError
from ..eval import report as eval_report
from ..recipes import BOTH_MODELS, STAGES, lineage

#: the mark of rows that are not the paper's (recipe 3), as recipes-cost prints it
NOT_IN_PAPER = "†"


def train_losses(log_text: str, objective: str = "") -> list:
    """[(update, training loss)] of a fairseq-train JSON log: the ``train_inner`` records
    (the average over the last ``--log-interval`` updates, logged at the last; never the
    epoch's average); with ``objective`` (recipe 3's ``mlm`` or ``denoising``), that
    objective's loss on the records that report it."""
    return train_log.train_losses(log_text, f"{objective}_loss" if objective else "loss")


def valid_losses(log_text: str, objective: str = "") -> dict:
    """{language: [(update, validation loss)]} of the ``valid_{lang}`` records."""
    key = f"{objective}_loss" if objective else "loss"
    out = {}
    for tag in train_log.validation_tags(log_text):
        points = train_log.valid_losses(log_text, tag, key)
        if points:
            out[tag[len("valid_") :] or tag] = points
    return out


def _label(model: str) -> str:
    return model if STAGES[model].in_paper else f"{model} {NOT_IN_PAPER}"


def pretrain_summary(job) -> str:
    log = job.done.parent / "train.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    points = train_losses(text)
    if not points:
        return "no loss logged"
    parts = [f"{o} {p[-1][1]:.3f}" for o in OBJECTIVES if (p := train_losses(text, o))]
    each = f" ({', '.join(parts)})" if parts else ""
    return f"update {points[-1][0]}, loss {points[-1][1]:.3f}{each}"


def finetune_summary(job) -> str:
    parts = []
    for path in sorted(job.done.parent.glob("seed*/metrics.json")):
        r = json.loads(path.read_text())
        avg = "" if r["avg_0s"] is None else f", avg-0s {r['avg_0s']:.1f}"
        parts.append(f"{r['metric']} en {r['en']:.1f}{avg}")
    return "; ".join(parts)


# ---- Table 1 ----------------------------------------------------------------------------
def run_cost(checkpoint: Path):
    """What a pre-training checkpoint's run was configured to cost, and what it measured."""
    from ..checkpoints import encoder_state
    from ..cost.ledger import checkpoint_cost

    state = encoder_state.load(str(checkpoint))
    cfg = state["cfg"]
    model, stage = cfg["model"], STAGES[Path(checkpoint).parent.name]
    updates = state["optimizer_history"][-1]["num_updates"]
    world = max(1, cfg["distributed_training"]["distributed_world_size"])
    per_update = (
        cfg["dataset"]["max_tokens"] * cfg["optimization"]["update_freq"][0] * world
    )
    freeze = getattr(model, "freeze_encoder_updates", stage.freeze_encoder_updates)
    run = replace(stage, updates=updates, freeze_encoder_updates=freeze)
    if stage.objective_schedule:  # recipe 3: the schedule the run was given
        task = cfg["task"]
        run = replace(
            run,
            objective_schedule=str(task["objective_schedule"]),
            mlm_share=float(task["mlm_share"]),
        )
    vocab = next(
        len(v)
        for k, v in state["model"].items()
        if k.endswith("encoder.embed_tokens.weight")
    )
    shape = stage_shape(
        run,
        vocab,
        model.encoder_embed_dim,
        model.encoder_ffn_embed_dim,
        cfg["task"]["tokens_per_sample"],
    )
    ledger = checkpoint_cost(state)
    return dict(
        updates=updates,
        tokens_per_update=per_update,
        predicted_tu=sum(p.units(per_update) for p in phases(run)),
        predicted_flops=sum(phase_flops(p, shape, per_update) for p in phases(run)),
        tu=ledger.tu,
        flops=ledger.flops,
    )


def _num(x, fmt="{:.3g}"):
    return "" if x is None else fmt.format(x)


def table1(plan) -> tuple:
    """(Markdown, {model: run cost}) of Table 1 at the paper's scale and this run's."""
    paper = {m["model"]: m for m in (model_cost(name, Width()) for name in STAGES)}
    runs = {}
    for model in plan.cfg.models:
        if plan.checkpoint(model).exists():
            runs[model] = run_cost(plan.checkpoint(model))
    header = [
        "Model",
        "Paper: updates",
        "Paper: TU",
        "Run: updates",
        "Run: tokens/update",
        "Predicted TU",
        "Measured TU",
        "Predicted FLOPs",
        "Measured FLOPs",
    ]
    rows = []
    for model in plan.cfg.models:
        p, r = paper[model], runs.get(model, {})
        ours = "" if STAGES[model].in_paper else " (ours)"
        rows.append(
            [
                _label(model),
                f"{STAGES[model].updates:,}{ours}",
                f"{p['tu']:.1f}{ours}",
                _num(r.get("updates"), "{:,}"),
                _num(r.get("tokens_per_update"), "{:,}"),
                _num(r.get("predicted_tu")),
                _num(r.get("tu")),
                _num(r.get("predicted_flops")),
                _num(r.get("flops")),
            ]
        )
    both_rows = []
    for way in both_models_cost(Width()):
        stages = [s.name for s in lineage(*BOTH_MODELS[way["way"]])]
        measured = [runs[s]["tu"] for s in stages if s in runs]
        predicted = [runs[s]["predicted_tu"] for s in stages if s in runs]
        complete = len(measured) == len(stages)
        name = way["way"] + ("" if way["in_paper"] else f" {NOT_IN_PAPER}")
        both_rows.append(
            [
                name,
                " + ".join(BOTH_MODELS[way["way"]]),
                f"{way['tu']:.1f}",
                f"{way['tu_saving']:.0%}",
                _num(sum(predicted) if complete else None),
                _num(sum(measured) if complete else None),
            ]
        )
    marked = [m for m in plan.cfg.models if not STAGES[m].in_paper]
    md = "\n\n".join(
        [
            "Paper TU include the stages a model starts from (Table 1); this run's columns "
            "count the model's own stage: predicted from its configuration, measured by its "
            "compute ledger."
            + (
                f" {NOT_IN_PAPER} Not in the paper: {', '.join(marked)} (recipe 3, MLM and "
                "span denoising trained jointly in one run, the paper's future work); its "
                "'paper' columns are our settings' prediction (fairseq_recipes/recipe3.py)."
                if marked
                else ""
            ),
            eval_report._markdown(header, rows),
            eval_report._markdown(
                [
                    "Both models",
                    "Encoder + seq2seq",
                    "Paper TU",
                    "Paper saving",
                    "Run: predicted TU",
                    "Run: measured TU",
                ],
                both_rows,
            ),
        ]
    )
    return md, runs


# ---- figures ----------------------------------------------------------------------------
#: the two objectives' panels: (title, the objective recipe 3's joint run logs for it)
_PANELS = (("MLM (encoders)", MLM), ("span denoising (seq2seq)", DENOISING))


def _curves(plan, read):
    """(panel, label, linestyle, what ``read(log text, objective)`` gives) per model with
    a log: every model on its objective's panel, recipe 3 on both."""
    for model in plan.cfg.models:
        log = plan.checkpoints / model / "train.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        if STAGES[model].objective_schedule:  # recipe 3: each objective on its panel
            for panel, (_, objective) in enumerate(_PANELS):
                found = read(text, objective)
                if found:
                    yield panel, f"{_label(model)} ({objective})", "--", found
            continue
        found = read(text, "")
        if found:
            yield (0 if STAGES[model].decoder_layers == 0 else 1), model, "-", found


def loss_figure(plan, output: Path):
    """``loss.png``: training loss against updates, as fairseq logs it per update (the
    average over the last ``--log-interval`` updates)."""
    fig, axes = eval_report.pyplot().subplots(1, 2, figsize=(12, 4.5))
    for panel, label, style, points in _curves(plan, train_losses):
        axes[panel].plot(*zip(*points), label=label, marker=".", linestyle=style)
    for ax, (title, _) in zip(axes, _PANELS):
        ax.set_title(f"training loss: {title}")
        ax.set_xlabel("update")
        ax.set_ylabel("loss (base 2)")
        if ax.lines:
            ax.legend(fontsize="small")
    return eval_report.save_figure(fig, output / "loss.png")


def valid_loss_figure(plan, output: Path):
    """``valid_loss.png``: the validation loss per language (fairseq's ``valid_{lang}``)
    against updates; a row per objective, a column per language."""
    curves = list(_curves(plan, valid_losses))
    langs = sorted({lang for *_, per_lang in curves for lang in per_lang}) or ["-"]
    fig, axes = eval_report.pyplot().subplots(
        2, len(langs), figsize=(3.2 * len(langs) + 1, 7), squeeze=False
    )
    for panel, label, style, per_lang in curves:
        for column, lang in enumerate(langs):
            if lang in per_lang:
                axes[panel][column].plot(
                    *zip(*per_lang[lang]), label=label, marker="o", linestyle=style
                )
    for row, (title, _) in enumerate(_PANELS):
        for column, lang in enumerate(langs):
            ax = axes[row][column]
            ax.set_title(f"validation loss, {lang}: {title}", fontsize="small")
            ax.set_xlabel("update")
            ax.set_ylabel("loss (base 2)")
        if axes[row][0].lines:
            axes[row][0].legend(fontsize="x-small")
    return eval_report.save_figure(fig, output / "valid_loss.png")


def cost_figure(runs: dict, output: Path):
    ways = list(BOTH_MODELS)
    fig, axes = eval_report.pyplot().subplots(1, 2, figsize=(12, 4.5))
    paper = {w["way"]: w for w in both_models_cost(Width())}
    labels = [w + ("" if paper[w]["in_paper"] else f" {NOT_IN_PAPER}") for w in ways]
    for ax, source in zip(axes, ["paper", "run"]):
        bottoms = [0.0] * len(ways)
        names = {s.name for w in ways for s in lineage(*BOTH_MODELS[w])}
        for stage in [s for s in STAGES if s in names]:
            heights = []
            for way in ways:
                if stage not in {s.name for s in lineage(*BOTH_MODELS[way])}:
                    heights.append(0.0)
                elif source == "paper":
                    heights.append(
                        sum(p["tu"] for p in paper[way]["phases"] if p["stage"] == stage)
                    )
                else:
                    heights.append(runs.get(stage, {}).get("tu", 0.0))
            ax.bar(labels, heights, bottom=bottoms, label=_label(stage))
            bottoms = [b + h for b, h in zip(bottoms, heights)]
        ax.set_title(
            "TU per way to get both models: "
            + ("paper scale" if source == "paper" else "this run (measured)")
        )
        ax.set_ylabel("TU")
        ax.tick_params(axis="x", rotation=20)
    axes[0].legend(fontsize="x-small")
    return eval_report.save_figure(fig, output / "cost.png")


# ---- report.md --------------------------------------------------------------------------
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def _check_finite(text: str, where: str):
    for token in re.findall(r"\b(?:nan|inf)\b", text, flags=re.I):
        raise RecipesError(f"{where}: a number is {token}")


def build(plan) -> Path:
    """Write ``WORK/results/report.md`` and its figures; returns the path."""
    output = plan.results
    output.mkdir(parents=True, exist_ok=True)
    table1_md, runs = table1(plan)
    figures = [
        loss_figure(plan, output),
        valid_loss_figure(plan, output),
        cost_figure(runs, output),
    ]
    tables = {}
    if any(output.glob("*/*/seed*/metrics.json")):
        written = eval_report.build_report(output, output, order=plan.cfg.models)
        figures += [p for p in written if p.suffix == ".png"]
        tables = {p.stem: _read(p) for p in written if p.suffix == ".md"}
    cfg = plan.cfg
    sections = [
        "# Sequential pre-training recipes: results",
        f"Configuration: `{cfg.source}`; work directory `{cfg.work}`; {len(cfg.models)} "
        f"models; evaluation: {', '.join(cfg.evaluations)} ({cfg.seeds} seed(s), test "
        f"languages {', '.join(cfg.test_langs())}); data: "
        + (
            "the embedded toy corpus and toy evaluation sets"
            if cfg.toy and cfg.eval_toy
            else "as configured"
        )
        + ".",
        "## Table 1: compute",
        table1_md,
        "![cost per way to get both models](cost.png)",
        "## Pre-training loss",
        "Training loss as fairseq logs it per update (the average over the last "
        "`--log-interval` updates); validation loss per language at each validation.",
        "![pre-training loss](loss.png)",
        "![validation loss per language](valid_loss.png)",
        "## Table 2: encoders (English, and the average over the other languages, "
        "zero-shot)",
        tables.get("table2", "(no results yet)"),
        "## Table 3: seq2seq models",
        tables.get("table3", "(no results yet)"),
        "## Per-language results (Tables 4-9)",
        tables.get("languages", "(no results yet)"),
    ]
    if "findings" in tables:  # its own "## The paper's findings" section
        sections.append(tables["findings"])
    sections += [
        f"![{p.stem}]({p.name})"
        for p in figures
        if p.stem not in ("cost", "loss", "valid_loss")
    ]
    if cfg.rehearsal is not None:
        from .rehearsal import markdown

        sections += ["## Rehearsal: resources per stage and the GPU bill", markdown(plan)]
    text = "\n\n".join(sections) + "\n"
    _check_finite(text, str(output / "report.md"))
    path = output / "report.md"
    write_text(path, text)
    return path
