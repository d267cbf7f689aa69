"""``recipes-report``: Tables 2 and 3 and the per-language tables from finished runs.

Reads ``RESULTS/<model>/<task>/seed*/metrics.json`` (what ``recipes-finetune``, the
``finetune-*.sh`` scripts and the seq2seq evaluations write) and writes to ``--output``:

* ``table2.md`` / ``table2.csv``: per model, for each encoder task its English score and
  avg-0s (mean over the other languages), mean +- sample standard deviation over seeds;
  in Markdown the best of each column in bold and the second underlined (the paper's
  Table 2);
* ``table3.md`` / ``table3.csv``: the same for the seq2seq tasks (the paper's Table 3):
  mTOP exact match (space- and case-insensitive) in English and avg-0s, XSUM ROUGE-1/2/L;
* ``languages.md`` / ``languages.csv``: one table per task metric (XNLI accuracy, mATIS++
  intent accuracy and slot F1, WikiANN F1, UDPOS F1, mTOP exact match: the paper's
  Tables 4-9), a column per language;
* ``{task}.png``: per-language bars of the task's main metric, one color per model, and
  ``xsum.png``: ROUGE-1/2/L bars per model.

The report is rebuilt from whatever runs exist; missing ones are left blank, and a table
without any of its tasks' results (Table 2 or Table 3) is not written. A model that is not
in the paper (recipe 3's ``bart-12e12d-joint``) is marked ``†`` in the Markdown tables and
charts, with a note under each table (the CSV files keep the plain names). (The command is
also installed as ``recipes-encoder-report``, its former name.)
"""

import argparse
import csv
import io
import json
import statistics
from pathlib import Path

from ..atomic_files import atomic_write, write_text
from ..cli import command
from ..errors import RecipesError
from ..recipes import STAGES
from .finetune import MAIN_METRIC

#: (task, metric) of the per-language tables, in the paper's order
LANGUAGE_TABLES = [("xnli", "accuracy"), ("matis", "intent_accuracy"),
                   ("matis", "slot_f1"), ("wikiann", "f1"), ("udpos", "f1"),
                   ("mtop", "sciem")]  # fmt: skip
TASK_ORDER = ["xnli", "matis", "wikiann", "udpos"]
#: (task, metric, split) of Table 3: split is a key of metrics.json ("en", "avg_0s"),
#: or None for ``languages.en[metric]`` (XSUM is English-only)
SEQ2SEQ_COLUMNS = [("mtop", "sciem", "en"), ("mtop", "sciem", "avg_0s"),
                   ("xsum", "rouge1", None), ("xsum", "rouge2", None),
                   ("xsum", "rougeL", None)]  # fmt: skip
#: per-language charts: (task, metric)
CHARTS = [(task, MAIN_METRIC[task]) for task in TASK_ORDER] + [("mtop", "sciem")]
ROUGE_LABELS = {"rouge1": "R-1", "rouge2": "R-2", "rougeL": "R-L"}


def collect(results: Path, order=None) -> dict:
    """{model: {task: [metrics of each seed]}}, models in ``order`` (the rest after, by
    name)."""
    found = {}
    for path in sorted(results.glob("*/*/seed*/metrics.json")):
        model, task = path.parts[-4], path.parts[-3]
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise RecipesError(f"{path}: unreadable metrics ({err})") from None
        found.setdefault(model, {}).setdefault(task, []).append(data)
    if not found:
        raise RecipesError(f"{results}: no */*/seed*/metrics.json")
    rank = {m: i for i, m in enumerate(order or [])}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), std


def _lang_summary(runs, lang, metric):
    """Mean and std over seeds of one language's metric."""
    return _summary([r["languages"].get(lang, {}).get(metric) for r in runs])


def _languages(found, models, task):
    """The task's languages, English first."""
    return sorted({lang for m in models for r in found[m][task] for lang in r["languages"]},
                  key=lambda lang: (lang != "en", lang))  # fmt: skip


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


def _cell(summary):
    return "" if summary is None else f"{summary[0]:.1f} ± {summary[1]:.1f}"


def _marked(column):
    """Markdown cells of one column: best bold, second underlined (by mean)."""
    means = sorted({s[0] for s in column if s is not None}, reverse=True)
    out = []
    for s in column:
        text = _cell(s)
        if s is not None and s[0] == means[0]:
            text = f"**{text}**"
        elif s is not None and len(means) > 1 and s[0] == means[1]:
            text = f"<u>{text}</u>"
        out.append(text)
    return out


def _markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _score_table(found: dict, columns):
    """(Markdown, CSV rows) of a table of (task, metric, split) columns, a row per model
    with results of one of its tasks; None when no model has any."""
    models = [m for m in found if any(task in found[m] for task, _, _ in columns)]
    if not models:
        return None
    columns = [c for c in columns if any(c[0] in found[m] for m in models)]
    summaries = [[_summary([r.get(split) for r in found[m].get(task, [])]) if split
                  else _lang_summary(found[m].get(task, []), "en", metric)
                  for m in models] for task, metric, split in columns]  # fmt: skip
    labels = [(split or "en").replace("_", "-") for _, _, split in columns]
    header = ["Model"] + [f"{task} {metric}" + (f" {label}" if split else "")
                          for (task, metric, split), label in zip(columns, labels)]  # fmt: skip
    marked = [_marked(column) for column in summaries]
    rows = [[label(m)] + [col[i] for col in marked] for i, m in enumerate(models)]
    csv_rows = [["model", "task", "metric", "split", "mean", "std", "seeds"]]
    for i, m in enumerate(models):
        for (task, metric, _), label, column in zip(columns, labels, summaries):
            if column[i] is not None:
                csv_rows.append([m, task, metric, label, f"{column[i][0]:.4f}",
                                 f"{column[i][1]:.4f}", len(found[m][task])])  # fmt: skip
    return _markdown(header, rows) + _note(models), csv_rows


def table2(found: dict):
    """(Markdown, CSV rows) of Table 2 (encoder tasks), None without their results."""
    columns = [(t, MAIN_METRIC[t], s) for t in TASK_ORDER for s in ("en", "avg_0s")]
    return _score_table(found, columns)


def table3(found: dict):
    """(Markdown, CSV rows) of Table 3 (seq2seq tasks), None without their results."""
    return _score_table(found, SEQ2SEQ_COLUMNS)


def language_tables(found: dict):
    """(Markdown, CSV rows) of the per-language tables."""
    parts, csv_rows = [], [["model", "task", "metric", "language", "mean", "std"]]
    for task, metric in LANGUAGE_TABLES:
        models = [m for m in found if task in found[m]]
        if not models:
            continue
        langs = _languages(found, models, task)
        rows = []
        for m in models:
            cells = []
            for lang in langs:
                s = _lang_summary(found[m][task], lang, metric)
                cells.append(_cell(s))
                if s is not None:
                    csv_rows.append([m, task, metric, lang, f"{s[0]:.4f}", f"{s[1]:.4f}"])
            rows.append([label(m)] + cells)
        parts.append(f"### {task} {metric}\n\n" + _markdown(["Model", *langs], rows)
                     + _note(models))  # fmt: skip
    return "\n\n".join(parts), csv_rows


def _bars(ax, groups, series):
    """Grouped bars: ``series`` is [(label, [(mean, std) or None per group])]."""
    width = 0.8 / len(series)
    for k, (name, stats) in enumerate(series):
        stats = [s or (0, 0) for s in stats]
        ax.bar([i + k * width for i in range(len(groups))], [s[0] for s in stats], width,
               yerr=[s[1] for s in stats], capsize=2, label=name)  # fmt: skip
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(groups))])
    ax.set_xticklabels(groups)
    ax.legend(fontsize="small")


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
        _bars(ax, langs, [(label(m), [_lang_summary(found[m][task], lang, metric)
                               for lang in langs]) for m in models])  # fmt: skip
        ax.set_ylabel(metric)
        ax.set_title(f"{task}: {metric} per language (zero-shot from English)")
        figures.append((task, fig))
    models = [m for m in found if "xsum" in found[m]]
    if models:
        fig, ax = plt.subplots(figsize=(max(6, len(models) * 1.5), 4))
        _bars(ax, [label(m) for m in models],
              [(name, [_lang_summary(found[m]["xsum"], "en", metric) for m in models])
               for metric, name in ROUGE_LABELS.items()])  # fmt: skip
        ax.set_ylabel("ROUGE F1")
        ax.set_title("xsum: ROUGE-1/2/L F1")
        figures.append(("xsum", fig))
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
        known = ", ".join(TASK_ORDER + ["mtop", "xsum"])
        raise RecipesError(f"{results}: no results of a known task ({known})")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        if table is not None:
            _write(output / f"{name}.md", table[0] + "\n")
            _write(output / f"{name}.csv", _csv(table[1]))
            written += [output / f"{name}.md", output / f"{name}.csv"]
    return written + charts(found, output)


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
