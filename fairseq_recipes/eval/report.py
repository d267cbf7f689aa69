"""``recipes-encoder-report``: Table 2 and the per-language tables from finished runs.

Reads ``RESULTS/<model>/<task>/seed*/metrics.json`` (what ``recipes-finetune`` and the
``finetune-*.sh`` scripts write) and writes to ``--output``:

* ``table2.md`` / ``table2.csv``: per model, for each task its English score and avg-0s
  (mean over the other languages), mean +- standard deviation over seeds; in Markdown the
  best of each column in bold and the second underlined (the paper's Table 2);
* ``languages.md`` / ``languages.csv``: one table per task metric (XNLI accuracy, mATIS++
  intent accuracy and slot F1, WikiANN F1, UDPOS F1: the paper's Tables 4-8), a column per
  language;
* ``{task}.png``: per-language bars of the task's main metric, one color per model.

The report is rebuilt from whatever runs exist; missing ones are left blank.
"""

import argparse
import csv
import io
import json
import os
import statistics
import sys
from pathlib import Path

from ..errors import RecipesError
from .finetune import MAIN_METRIC

#: (task, metric) of the per-language tables, in the paper's order
LANGUAGE_TABLES = [("xnli", "accuracy"), ("matis", "intent_accuracy"),
                   ("matis", "slot_f1"), ("wikiann", "f1"), ("udpos", "f1")]  # fmt: skip
TASK_ORDER = ["xnli", "matis", "wikiann", "udpos"]


def collect(results: Path) -> dict:
    """{model: {task: [metrics of each seed]}}."""
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
    return found


def _summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), std


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


def table2(found: dict):
    """(Markdown, CSV rows) of Table 2."""
    models = list(found)
    tasks = [t for t in TASK_ORDER if any(t in found[m] for m in models)]
    columns, header = [], ["Model"]
    for task in tasks:
        for key, label in (("en", "en"), ("avg_0s", "avg-0s")):
            columns.append([_summary([r[key] for r in found[m].get(task, [])])
                            for m in models])  # fmt: skip
            header.append(f"{task} {MAIN_METRIC[task]} {label}")
    marked = [_marked(column) for column in columns]
    rows = [[m] + [col[i] for col in marked] for i, m in enumerate(models)]
    csv_rows = [["model", "task", "metric", "split", "mean", "std", "seeds"]]
    for i, m in enumerate(models):
        for c, column in enumerate(columns):
            task, metric, split = header[c + 1].split(" ")
            if column[i] is not None:
                seeds = len(found[m][task])
                csv_rows.append([m, task, metric, split, f"{column[i][0]:.4f}",
                                 f"{column[i][1]:.4f}", seeds])  # fmt: skip
    return _markdown(header, rows), csv_rows


def language_tables(found: dict):
    """(Markdown, CSV rows) of the per-language tables."""
    parts, csv_rows = [], [["model", "task", "metric", "language", "mean", "std"]]
    for task, metric in LANGUAGE_TABLES:
        models = [m for m in found if task in found[m]]
        if not models:
            continue
        langs = sorted({lang for m in models for r in found[m][task] for lang in r["languages"]},
                       key=lambda lang: (lang != "en", lang))  # fmt: skip
        rows = []
        for m in models:
            cells = []
            for lang in langs:
                s = _summary(
                    [r["languages"].get(lang, {}).get(metric) for r in found[m][task]]
                )
                cells.append(_cell(s))
                if s is not None:
                    csv_rows.append([m, task, metric, lang, f"{s[0]:.4f}", f"{s[1]:.4f}"])
            rows.append([m] + cells)
        parts.append(f"### {task} {metric}\n\n" + _markdown(["Model", *langs], rows))
    return "\n\n".join(parts), csv_rows


def charts(found: dict, output: Path) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for task in TASK_ORDER:
        models = [m for m in found if task in found[m]]
        if not models:
            continue
        metric = MAIN_METRIC[task]
        langs = sorted({lang for m in models for r in found[m][task] for lang in r["languages"]},
                       key=lambda lang: (lang != "en", lang))  # fmt: skip
        width = 0.8 / len(models)
        fig, ax = plt.subplots(figsize=(max(6, len(langs) * 0.8), 4))
        for k, m in enumerate(models):
            means = [(_summary([r["languages"].get(lang, {}).get(metric)
                                for r in found[m][task]]) or (0, 0))[0] for lang in langs]  # fmt: skip
            ax.bar([i + k * width for i in range(len(langs))], means, width, label=m)
        ax.set_xticks([i + width * (len(models) - 1) / 2 for i in range(len(langs))])
        ax.set_xticklabels(langs)
        ax.set_ylabel(metric)
        ax.set_title(f"{task}: {metric} per language (zero-shot from English)")
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = output / f"{task}.png"
        fig.savefig(path.with_suffix(".tmp.png"), dpi=100)
        plt.close(fig)
        os.replace(path.with_suffix(".tmp.png"), path)
        written.append(path)
    return written


def _write(path: Path, text: str):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def build_report(results: Path, output: Path) -> list:
    found = collect(results)
    output.mkdir(parents=True, exist_ok=True)
    md, rows = table2(found)
    _write(output / "table2.md", md + "\n")
    _write(output / "table2.csv", _csv(rows))
    md, rows = language_tables(found)
    _write(output / "languages.md", md + "\n")
    _write(output / "languages.csv", _csv(rows))
    return [output / n for n in ("table2.md", "table2.csv", "languages.md",
                                 "languages.csv")] + charts(found, output)  # fmt: skip


def cli_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="recipes-encoder-report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--results", default="results", help="RESULTS/<model>/<task>/seed*/metrics.json"
    )
    parser.add_argument("--output", default=None, help="default: RESULTS/report")
    args = parser.parse_args(argv)
    results = Path(args.results)
    try:
        written = build_report(results, Path(args.output or results / "report"))
    except RecipesError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    cli_main()
