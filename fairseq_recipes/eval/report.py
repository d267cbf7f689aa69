"""``recipes-report``: Tables 2 and 3 and the per-language tables from finished runs.

Reads ``RESULTS/<model>/<task>/seed*/metrics.json`` (what ``recipes-finetune``, the
``finetune-*.sh`` scripts and the seq2seq evaluations write; the main job's further
pre-training seeds under ``RESULTS/pretrain-seed<k>/``) and writes to ``--output``:

* ``table2.md`` / ``table2.csv``: per model, for each encoder task its English score and
  avg-0s (mean over the other languages): the mean over runs, alone with one run, with
  the sample standard deviation over fine-tuning seeds (and over pre-training seeds)
  with several; in Markdown the best of each column in bold and the second underlined
  (the paper's Table 2), each only where its 95% interval lies above the lower ones'
  (``ranks``; the intervals: ``intervals.py``);
* ``table3.md`` / ``table3.csv``: the same for the seq2seq tasks (the paper's Table 3):
  mTOP exact match (space- and case-insensitive) in English and avg-0s, XSUM ROUGE-1/2/L;
* ``languages.md`` / ``languages.csv``: one table per task metric (XNLI accuracy, mATIS++
  intent accuracy and slot F1, WikiANN F1, UDPOS F1, mTOP exact match: the paper's
  Tables 4-9), a column per language;
* ``{task}.png``: per-language bars of the task's main metric, one color per model, and
  ``xsum.png``: ROUGE-1/2/L bars per model, with the 95% intervals as error bars;
* ``seeds.png`` (with two or more runs of a model): each model's pre-training seeds and
  the spread over fine-tuning seeds of each;
* ``findings.md``: whether the paper's three headline findings hold in these runs, each
  comparison beyond the noise or within it (``findings.py``).

The report is rebuilt from whatever runs exist; missing ones are left blank, and a table
without any of its tasks' results (Table 2 or Table 3) is not written. A model that is not
in the paper (recipe 3's ``bart-12e12d-joint``) is marked ``†`` in the Markdown tables and
charts, with a note under each table (the CSV files keep the plain names).
"""

import argparse
import csv
import io
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from ..atomic_files import atomic_write, write_text
from ..cli import command
from ..errors import RecipesError
from ..evaluations import ENCODER_NAMES, EVALUATIONS, NAMES, SEQ2SEQ_NAMES
from ..recipes import STAGES
from . import PRETRAIN_SEED_DIR
from .intervals import seed_interval

#: (task, metric) of the per-language tables, in the paper's order
LANGUAGE_TABLES = [
    (e.name, metric)
    for e in EVALUATIONS.values()
    if e.multilingual
    for metric in e.reported_metrics
]


def table_columns(names) -> list:
    """(task, metric, split) of Table 2 or 3: split is a key of metrics.json ("en",
    "avg_0s") for a multilingual evaluation's main metric, None for an English-only
    one's metrics (``languages.en[metric]``: XSUM)."""
    out = []
    for e in (EVALUATIONS[name] for name in names):
        if e.multilingual:
            out += [(e.name, e.main_metric, split) for split in ("en", "avg_0s")]
        else:
            out += [(e.name, metric, None) for metric in e.reported_metrics]
    return out


#: per-language charts: (task, main metric) of every multilingual evaluation
CHARTS = [(e.name, e.main_metric) for e in EVALUATIONS.values() if e.multilingual]
#: English-only evaluations: a chart of their metrics per model
ENGLISH_ONLY = [e for e in EVALUATIONS.values() if not e.multilingual]
METRIC_LABELS = {"rouge1": "R-1", "rouge2": "R-2", "rougeL": "R-L"}


def collect(results: Path, order=None) -> dict:
    """{model: {task: [metrics of each run]}}, models in ``order`` (the rest after, by
    name). A run is one fine-tuning seed of one pre-training seed: its metrics carry
    ``pretrain_seed`` (1 for ``RESULTS/<model>/...``, k for ``RESULTS/pretrain-seedk/
    <model>/...``)."""
    found = {}
    paths = [(1, p) for p in results.glob("*/*/seed*/metrics.json")]
    for tree in sorted(results.glob(PRETRAIN_SEED_DIR.format("*"))):
        seed = tree.name[len(PRETRAIN_SEED_DIR.format("")) :]
        if seed.isdigit():
            paths += [(int(seed), p) for p in tree.glob("*/*/seed*/metrics.json")]
    for pretrain_seed, path in sorted(paths, key=lambda sp: (sp[0], str(sp[1]))):
        model, task = path.parts[-4], path.parts[-3]
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise RecipesError(f"{path}: unreadable metrics ({err})") from None
        data["pretrain_seed"] = pretrain_seed
        found.setdefault(model, {}).setdefault(task, []).append(data)
    if not found:
        raise RecipesError(f"{results}: no */*/seed*/metrics.json")
    rank = {m: i for i, m in enumerate(order or [])}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


@dataclass
class Cell:
    """One model's score on one column, over its runs."""

    mean: float  # the mean over pre-training seeds of the mean over fine-tuning seeds
    runs: int
    pretrain_seeds: int
    #: sample standard deviation over fine-tuning seeds (pooled over pre-training
    #: seeds); None with one fine-tuning run per pre-training seed: unknown, not zero
    finetune_sd: Optional[float]
    #: sample standard deviation of the pre-training seeds' means; None with one
    pretrain_sd: Optional[float]
    #: the 95% interval of ``mean``: over pre-training seeds when there are two or
    #: more, else over fine-tuning seeds, else the one run's bootstrap over the test set
    #: (``intervals.py``); None when no estimate exists (old metrics.json)
    interval: Optional[List[float]]
    #: per pre-training seed: (its mean, its fine-tuning sd or None)
    by_pretrain_seed: List[Tuple[float, Optional[float]]]


def _sd(values) -> Optional[float]:
    return statistics.stdev(values) if len(values) > 1 else None


def summarize(runs, value, interval=lambda run: None) -> Optional[Cell]:
    """The Cell of ``value(run)`` over ``runs`` (None when no run has the value);
    ``interval(run)``: the run's own bootstrap interval."""
    scored = [(r["pretrain_seed"], value(r), r) for r in runs]
    scored = [(seed, v, r) for seed, v, r in scored if v is not None]
    if not scored:
        return None
    by_seed = {}
    for seed, v, r in scored:
        by_seed.setdefault(seed, []).append((v, r))
    groups = [[v for v, _ in group] for _, group in sorted(by_seed.items())]
    means = [statistics.mean(g) for g in groups]
    within = [statistics.variance(g) for g in groups if len(g) > 1]
    if len(means) > 1:
        ci = seed_interval(means)
    elif len(groups[0]) > 1:
        ci = seed_interval(groups[0])
    else:
        ci = interval(scored[0][2])
    return Cell(
        mean=statistics.mean(means),
        runs=len(scored),
        pretrain_seeds=len(means),
        finetune_sd=math.sqrt(statistics.mean(within)) if within else None,
        pretrain_sd=_sd(means),
        interval=ci,
        by_pretrain_seed=[(m, _sd(g)) for m, g in zip(means, groups)],
    )


def _run_interval(run, split, metric):
    """A run's bootstrap interval of ``metric`` on ``split`` (a language or avg_0s)."""
    found = run.get("intervals", {}).get(split, {}).get(metric)
    return list(found) if found else None


def _lang_summary(runs, lang, metric) -> Optional[Cell]:
    """One language's metric over the runs."""
    return summarize(
        runs,
        lambda r: r["languages"].get(lang, {}).get(metric),
        lambda r: _run_interval(r, lang, metric),
    )


def _languages(found, models, task):
    """The task's languages, English first."""
    return sorted(
        {lang for m in models for r in found[m][task] for lang in r["languages"]},
        key=lambda lang: (lang != "en", lang),
    )


#: after the name of a model that is not in the paper (recipe 3), as recipes-cost marks it
NOT_IN_PAPER = "†"


def label(model: str) -> str:
    """The model's name in tables and charts: marked when it is not in the paper."""
    marked = model in STAGES and not STAGES[model].in_paper
    return f"{model} {NOT_IN_PAPER}" if marked else model


def _note(models) -> str:
    """The footnote of the marked rows among ``models`` (empty when none is)."""
    marked = [m for m in models if label(m) != m]
    if not marked:
        return ""
    return (
        f"\n\n{NOT_IN_PAPER} Not in the paper: {', '.join(marked)} (recipe 3, MLM "
        "and span denoising trained jointly in one run; the paper's future work)."
    )


def _cell(cell: Optional[Cell], with_interval: bool = False) -> str:
    """``51.2`` (one run), ``51.2 ± 1.3`` (fine-tuning seeds), ``51.2 ± 2.1 pt ± 1.3
    ft`` (pre-training and fine-tuning seeds); with its interval ``[47.0, 55.3]``."""
    if cell is None:
        return ""
    text = f"{cell.mean:.1f}"
    if cell.pretrain_sd is not None:
        text += f" ± {cell.pretrain_sd:.1f} pt"
        if cell.finetune_sd is not None:
            text += f" ± {cell.finetune_sd:.1f} ft"
    elif cell.finetune_sd is not None:
        text += f" ± {cell.finetune_sd:.1f}"
    if with_interval and cell.interval is not None:
        text += f" [{cell.interval[0]:.1f}, {cell.interval[1]:.1f}]"
    return text


def _above(cell: Cell, lower: List[Cell]) -> bool:
    """Whether ``cell``'s interval lies above every interval of ``lower``."""
    return cell.interval is not None and all(
        c.interval is not None and cell.interval[0] > c.interval[1] for c in lower
    )


def ranks(column: List[Optional[Cell]]) -> List[int]:
    """Per cell: 1 (best), 2 (second) or 0 (no mark). Best only where its 95% interval
    lies above every other's, second only where best is marked and its interval lies
    above every lower one's: a difference within the noise is no ranking."""
    order = sorted(
        [i for i, c in enumerate(column) if c is not None], key=lambda i: -column[i].mean
    )
    out = [0] * len(column)
    cells = [column[i] for i in order]
    if len(cells) >= 2 and _above(cells[0], cells[1:]):
        out[order[0]] = 1
        if len(cells) >= 3 and _above(cells[1], cells[2:]):
            out[order[1]] = 2
    return out


def _marked(column: List[Optional[Cell]]) -> List[str]:
    """Markdown cells of one column: best bold, second underlined (``ranks``)."""
    out = []
    for cell, rank in zip(column, ranks(column)):
        text = _cell(cell)
        out.append(
            f"**{text}**" if rank == 1 else f"<u>{text}</u>" if rank == 2 else text
        )
    return out


#: under every score table: how to read a cell and its marks
READING = (
    "Cells: the mean over runs; with one run the value alone (its spread over seeds "
    "is unknown, not zero); `± s` the sample standard deviation over fine-tuning "
    "seeds; `± s pt ± s ft` over pre-training seeds (of their means) and over "
    "fine-tuning seeds. Bold best and underlined second only where the 95% interval "
    "lies above every lower one (a t-interval over seeds; with one run a bootstrap over "
    "the test set's examples, printed in the per-language tables): unmarked "
    "differences are within that noise."
)


def _csv_cell(cell: Cell) -> list:
    def num(x):
        return "" if x is None else f"{x:.4f}"

    low, high = cell.interval or (None, None)
    return [
        f"{cell.mean:.4f}",
        num(cell.finetune_sd),
        num(cell.pretrain_sd),
        num(low),
        num(high),
        cell.runs,
        cell.pretrain_seeds,
    ]


CSV_STATS = ["mean", "std", "pretrain_std", "ci_low", "ci_high", "runs", "pretrain_seeds"]


def _markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _column_cell(runs, metric, split) -> Optional[Cell]:
    """A Table 2/3 cell: ``split`` is a key of metrics.json (the main metric's ``en``
    or ``avg_0s``), or None for English's ``metric`` (XSUM's ROUGE types)."""
    if split is None:
        return _lang_summary(runs, "en", metric)
    return summarize(
        runs, lambda r: r.get(split), lambda r: _run_interval(r, split, metric)
    )


def _score_table(found: dict, columns):
    """(Markdown, CSV rows) of a table of (task, metric, split) columns, a row per model
    with results of one of its tasks; None when no model has any."""
    models = [m for m in found if any(task in found[m] for task, _, _ in columns)]
    if not models:
        return None
    columns = [c for c in columns if any(c[0] in found[m] for m in models)]
    cells = [
        [_column_cell(found[m].get(task, []), metric, split) for m in models]
        for task, metric, split in columns
    ]
    splits = [(split or "en").replace("_", "-") for _, _, split in columns]
    header = ["Model"] + [
        f"{task} {metric}" + (f" {name}" if split else "")
        for (task, metric, split), name in zip(columns, splits)
    ]
    marked = [_marked(column) for column in cells]
    rows = [[label(m)] + [col[i] for col in marked] for i, m in enumerate(models)]
    csv_rows = [["model", "task", "metric", "split", *CSV_STATS]]
    for i, m in enumerate(models):
        for (task, metric, _), name, column in zip(columns, splits, cells):
            if column[i] is not None:
                csv_rows.append([m, task, metric, name, *_csv_cell(column[i])])
    return _markdown(header, rows) + "\n\n" + READING + _note(models), csv_rows


def table2(found: dict):
    """(Markdown, CSV rows) of Table 2 (encoder tasks), None without their results."""
    return _score_table(found, table_columns(ENCODER_NAMES))


def table3(found: dict):
    """(Markdown, CSV rows) of Table 3 (seq2seq tasks), None without their results."""
    return _score_table(found, table_columns(SEQ2SEQ_NAMES))


def language_tables(found: dict):
    """(Markdown, CSV rows) of the per-language tables, each cell with its interval."""
    parts, csv_rows = [], [["model", "task", "metric", "language", *CSV_STATS]]
    for task, metric in LANGUAGE_TABLES:
        models = [m for m in found if task in found[m]]
        if not models:
            continue
        langs = _languages(found, models, task)
        rows = []
        for m in models:
            cells = []
            for lang in langs:
                cell = _lang_summary(found[m][task], lang, metric)
                cells.append(_cell(cell, with_interval=True))
                if cell is not None:
                    csv_rows.append([m, task, metric, lang, *_csv_cell(cell)])
            rows.append([label(m)] + cells)
        parts.append(
            f"### {task} {metric}\n\n"
            + _markdown(["Model", *langs], rows)
            + _note(models)
        )
    if parts:
        parts.append(
            "Each cell: the score as in Tables 2 and 3 and its 95% interval "
            "[low, high] (over seeds, or with one run a bootstrap over the test "
            "set's examples)."
        )
    return "\n\n".join(parts), csv_rows


def _bars(ax, groups, series):
    """Grouped bars: ``series`` is [(label, [Cell or None per group])]; error bars: the
    95% interval where one is known (none drawn otherwise: unknown is not zero)."""
    width = 0.8 / len(series)
    for k, (name, cells) in enumerate(series):
        x = [i + k * width for i in range(len(groups))]
        means = [c.mean if c else 0.0 for c in cells]
        ax.bar(x, means, width, label=name)
        known = [(xi, c) for xi, c in zip(x, cells) if c is not None and c.interval]
        if known:
            ax.errorbar(
                [xi for xi, _ in known],
                [c.mean for _, c in known],
                yerr=[
                    [c.mean - c.interval[0] for _, c in known],
                    [c.interval[1] - c.mean for _, c in known],
                ],
                fmt="none",
                ecolor="black",
                capsize=2,
                linewidth=0.8,
            )
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(groups))])
    ax.set_xticklabels(groups)
    ax.legend(fontsize="small")


def seeds_figure(found: dict, output: Path) -> Optional[Path]:
    """``seeds.png``: per task (main metric, English), each model's pre-training seeds
    (a point per seed: its mean over fine-tuning seeds, its bar their standard
    deviation) beside the mean; written when some model has two or more runs."""
    panels = [(t, m) for t, m in CHARTS if any(t in found[x] for x in found)]
    panels += [
        (e.name, e.main_metric)
        for e in ENGLISH_ONLY
        if any(e.name in found[x] for x in found)
    ]
    summaries = {
        (t, m): [(x, _lang_summary(found[x].get(t, []), "en", m)) for x in found]
        for t, m in panels
    }
    if not any(c and c.runs > 1 for cells in summaries.values() for _, c in cells):
        return None
    fig, axes = pyplot().subplots(
        1, len(panels), figsize=(4 * len(panels), 4.5), squeeze=False
    )
    for ax, (task, metric) in zip(axes[0], panels):
        cells = [(x, c) for x, c in summaries[(task, metric)] if c is not None]
        for i, (_, c) in enumerate(cells):
            n = len(c.by_pretrain_seed)
            xs = [i + (j - (n - 1) / 2) * 0.12 for j in range(n)]
            for x, (mean, sd) in zip(xs, c.by_pretrain_seed):
                ax.errorbar(
                    [x],
                    [mean],
                    yerr=None if sd is None else [[sd], [sd]],
                    fmt="o",
                    color="tab:blue",
                    capsize=2,
                    markersize=4,
                )
            ax.hlines(c.mean, i - 0.3, i + 0.3, color="tab:red")
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels(
            [label(x) for x, _ in cells], rotation=60, ha="right", fontsize="x-small"
        )
        ax.set_title(f"{task} {metric} (en)", fontsize="small")
    axes[0][0].set_ylabel(
        "score: a point per pre-training seed, bar = sd over "
        "fine-tuning seeds, line = mean",
        fontsize="x-small",
    )
    return save_figure(fig, output / "seeds.png")


def pyplot():
    """matplotlib's pyplot, drawing to files, without its debug log."""
    import logging

    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Save ``fig`` as PNG through a temporary name, and close it."""
    plt = pyplot()
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, dpi=100, format="png")
    plt.close(fig)
    return path


def charts(found: dict, output: Path) -> list:
    plt = pyplot()
    figures = []
    for task, metric in CHARTS:
        models = [m for m in found if task in found[m]]
        if not models:
            continue
        langs = _languages(found, models, task)
        fig, ax = plt.subplots(figsize=(max(6, len(langs) * 0.8), 4))
        _bars(
            ax,
            langs,
            [
                (
                    label(m),
                    [_lang_summary(found[m][task], lang, metric) for lang in langs],
                )
                for m in models
            ],
        )
        ax.set_ylabel(metric)
        ax.set_title(f"{task}: {metric} per language (zero-shot from English)")
        figures.append((task, fig))
    for e in ENGLISH_ONLY:  # one chart of its metrics per model (XSUM: R-1/2/L)
        models = [m for m in found if e.name in found[m]]
        if not models:
            continue
        names = [METRIC_LABELS.get(metric, metric) for metric in e.reported_metrics]
        fig, ax = plt.subplots(figsize=(max(6, len(models) * 1.5), 4))
        _bars(
            ax,
            [label(m) for m in models],
            [
                (name, [_lang_summary(found[m][e.name], "en", metric) for m in models])
                for metric, name in zip(e.reported_metrics, names)
            ],
        )
        ax.set_ylabel("ROUGE F1" if e.scorer == "recipes_rouge" else "score")
        ax.set_title(f"{e.name}: {' / '.join(names)}")
        figures.append((e.name, fig))
    return [save_figure(fig, output / f"{name}.png") for name, fig in figures]


def _write(path: Path, text: str):
    write_text(path, text)


def _csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def build_report(results: Path, output: Path, order=None) -> list:
    found = collect(results, order)
    tables = {"table2": table2(found), "table3": table3(found)}
    md, rows = language_tables(found)
    tables["languages"] = (md, rows) if md else None
    if not any(tables.values()):
        known = ", ".join(NAMES)
        raise RecipesError(f"{results}: no results of a known task ({known})")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        if table is not None:
            _write(output / f"{name}.md", table[0] + "\n")
            _write(output / f"{name}.csv", _csv(table[1]))
            written += [output / f"{name}.md", output / f"{name}.csv"]
    from .findings import findings_markdown  # findings.py reads this module's cells

    findings = findings_markdown(found)
    if findings is not None:
        _write(output / "findings.md", findings + "\n")
        written.append(output / "findings.md")
    seeds = seeds_figure(found, output)
    return written + charts(found, output) + ([seeds] if seeds else [])


@command
def cli_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="recipes-report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--results", default="results", help="RESULTS/<model>/<task>/seed*/metrics.json"
    )
    parser.add_argument("--output", default=None, help="default: RESULTS/report")
    args = parser.parse_args(argv)
    results = Path(args.results)
    written = build_report(results, Path(args.output or results / "report"))
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    cli_main()
