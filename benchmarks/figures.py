"""How a benchmark run as a script prints its figures: one per line, the same everywhere.

python benchmarks/<name>.py [--quick]
"""

import argparse


def shown(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return "  ".join(f"{k}={shown(v)}" for k, v in value.items())
    return str(value)


def cli(run, doc: str) -> None:
    """Parse ``--quick``, call ``run(quick)`` and print each figure it returns."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    figures = run(parser.parse_args().quick)
    width = max(map(len, figures), default=0) + 2
    for key, value in figures.items():
        print(f"{key:<{width}} {shown(value)}")
