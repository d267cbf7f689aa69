"""Run every benchmark: ``python -m benchmarks [--quick] [--json results.json] [--only NAME]``.

Each benchmark module exposes ``run(quick) -> dict`` of figures; this prints them as one
table and writes them as JSON.
"""

import argparse
import importlib
import json
import sys
import time

from fairseq_recipes.atomic_files import write_text

BENCHMARKS = [
    "benchmarks.noise_throughput",
    "benchmarks.preprocess_throughput",
    "benchmarks.step_overhead",
    "benchmarks.freeze_cost",
    "benchmarks.recipe_cost",
    "benchmarks.distributed",
    "benchmarks.attention_kernels",
    "benchmarks.checkpoint_load",
]


def _flat(prefix, value):
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _flat(f"{prefix}.{key}" if prefix else str(key), sub)
    else:
        yield prefix, value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "--quick", action="store_true", help="smaller inputs, a minute each"
    )
    parser.add_argument("--json", default=None, help="write all figures to this file")
    parser.add_argument(
        "--only",
        action="append",
        choices=[name.rsplit(".", 1)[-1] for name in BENCHMARKS],
        help="run this benchmark only (repeatable)",
    )
    args = parser.parse_args(argv)
    results = {}
    for name in BENCHMARKS:
        if args.only and name.rsplit(".", 1)[-1] not in args.only:
            continue
        start = time.time()
        print(f"== {name}", file=sys.stderr, flush=True)
        results[name] = importlib.import_module(name).run(quick=args.quick)
        results[name]["_seconds"] = round(time.time() - start, 1)
    rows = [(k, v) for k, v in _flat("", results)]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    if args.json:
        write_text(args.json, json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
