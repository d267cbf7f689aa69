"""The paper's three headline findings, checked against the runs the report reads.

1. The MLM encoder (``roberta-12e``) beats the encoders of the seq2seq models on sequence
   labeling (WikiANN, UDPOS: the paper's Table 2).
2. ``2stage-bart-12e12d-unfrz`` is on par with ``bart-12e12d`` on generation (mTOP,
   XSUM: Table 3), at less compute for both models together (``cost/``).
3. A frozen encoder (``2stage-bart-12e12d``) is behind both on generation.

How a verdict is reached: ``HOW_TO_READ``, printed above the verdicts.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..cost.table1 import both_models_cost
from ..evaluations import ENCODER_NAMES
from ..recipes import STAGES
from .report import Cell, _column_cell, _markdown, label, table_columns

MLM_ENCODER = "roberta-12e"
FROM_SCRATCH = "bart-12e12d"
UNFROZEN = "2stage-bart-12e12d-unfrz"
FROZEN = "2stage-bart-12e12d"
#: the way to get both models (recipes.BOTH_MODELS) that finding 2 prices
UNFROZEN_WAY = "recipe 2, unfrozen"
#: the paper's sequence labeling tasks (Table 2's finding) and its generation tasks
LABELING = ("wikiann", "udpos")
GENERATION = ("mtop", "xsum")

ABOVE, BELOW, WITHIN = "above", "below", "within noise"
#: above the verdicts in findings.md
HOW_TO_READ = (
    "Each comparison is of two cells of the report's tables: above or below only where "
    "their 95% intervals do not overlap (the rule by which the tables mark a best), else "
    "within noise. Two disjoint 95% intervals are a stricter test than an interval of the "
    "difference, so within noise can hide a real difference smaller than the intervals' "
    "half-widths, which the table prints. A finding holds where every comparison it "
    "names goes its way, does not hold where one goes the other way, and cannot be "
    "resolved where none is beyond the noise; for on par, no difference beyond the noise "
    "is consistent with it, no more, and the half-widths say how large a difference "
    "could have gone unseen."
)


@dataclass(frozen=True)
class Finding:
    number: int
    claim: str
    model: str
    #: the models it is compared with; None: every seq2seq model with an encoder result
    others: Optional[Tuple[str, ...]]
    expected: str  # ABOVE, BELOW, or "on par"
    tasks: Tuple[str, ...]
    #: whether its claim is about compute too (recipe 2's share of Training Units)
    with_compute_ratio: bool = False


FINDINGS = (
    Finding(
        1,
        "the MLM encoder beats the seq2seq models' encoders on sequence labeling",
        MLM_ENCODER,
        None,
        ABOVE,
        LABELING,
    ),
    Finding(
        2,
        f"{UNFROZEN} is on par with {FROM_SCRATCH} on generation",
        UNFROZEN,
        (FROM_SCRATCH,),
        "on par",
        GENERATION,
        with_compute_ratio=True,
    ),
    Finding(
        3,
        f"a frozen encoder ({FROZEN}) is behind both on generation",
        FROZEN,
        (FROM_SCRATCH, UNFROZEN),
        BELOW,
        GENERATION,
    ),
)


def compare(a: Cell, b: Cell) -> str:
    """ABOVE or BELOW where the 95% intervals of ``a`` and ``b`` are disjoint."""
    if a.interval is None or b.interval is None:
        return WITHIN
    if a.interval[0] > b.interval[1]:
        return ABOVE
    if a.interval[1] < b.interval[0]:
        return BELOW
    return WITHIN


def _others(finding: Finding, found: dict) -> List[str]:
    if finding.others is not None:
        return [m for m in finding.others if m in found]
    return [
        m
        for m in found
        if m in STAGES
        and STAGES[m].in_paper  # the paper's seq2seq models, not recipe 3's
        and STAGES[m].decoder_layers > 0
        and any(t in found[m] for t in ENCODER_NAMES)
    ]


def comparisons(finding: Finding, found: dict) -> list:
    """(task, metric, split, other model, cell, other's cell, verdict) per column."""
    if finding.model not in found:
        return []
    out = []
    columns = [c for c in table_columns(finding.tasks) if c[0] in found[finding.model]]
    for task, metric, split in columns:
        mine = _column_cell(found[finding.model][task], metric, split)
        for other in _others(finding, found):
            theirs = _column_cell(found[other].get(task, []), metric, split)
            if mine is not None and theirs is not None:
                verdict = compare(mine, theirs)
                out.append((task, metric, split, other, mine, theirs, verdict))
    return out


def verdict(finding: Finding, verdicts: List[str]) -> str:
    """What the comparisons say of the finding."""
    if not verdicts:
        return "not run (its models or tasks have no results)"
    if finding.expected == "on par":
        if all(v == WITHIN for v in verdicts):
            return "consistent: no difference beyond the noise"
        return "does not hold: a difference beyond the noise"
    against = BELOW if finding.expected == ABOVE else ABOVE
    if any(v == against for v in verdicts):
        return "does not hold: a comparison goes the other way"
    if all(v == finding.expected for v in verdicts):
        return "holds: every comparison beyond the noise"
    if any(v == finding.expected for v in verdicts):
        return "partly: some comparisons beyond the noise, the rest within it"
    return "cannot be resolved: every difference within the noise"


def _half_width(cell: Cell) -> str:
    if cell.interval is None:
        return "?"
    return f"{(cell.interval[1] - cell.interval[0]) / 2:.1f}"


def compute_ratio() -> float:
    """Training Units of recipe 2 unfrozen over those of both models from scratch
    (Table 1's bottom rows, ``cost/table1.py``)."""
    rows = {row["way"]: row for row in both_models_cost()}
    return 1 - rows[UNFROZEN_WAY]["tu_saving"]


def findings_markdown(found: dict) -> Optional[str]:
    """``findings.md``: a verdict per finding and its comparisons; None when no
    finding's model has results."""
    parts = []
    for finding in FINDINGS:
        rows = comparisons(finding, found)
        if not rows:
            continue
        title = f"{finding.number}. {finding.claim}"
        if finding.with_compute_ratio:
            title += (
                f" (both models for {compute_ratio():.2f} of the Training Units of "
                f"{MLM_ENCODER} and {FROM_SCRATCH})"
            )
        table = _markdown(
            ["Column", "Model", "vs", "Difference", "± (half-widths)", "Verdict"],
            [
                [
                    f"{task} {metric} {(split or 'en').replace('_', '-')}",
                    label(finding.model),
                    label(other),
                    f"{mine.mean - theirs.mean:+.1f}",
                    f"{_half_width(mine)} / {_half_width(theirs)}",
                    v,
                ]
                for task, metric, split, other, mine, theirs, v in rows
            ],
        )
        result = verdict(finding, [row[-1] for row in rows])
        parts.append(f"### {title}\n\n**{result}.**\n\n{table}")
    if not parts:
        return None
    return (
        "## The paper's findings in these runs\n\n"
        + HOW_TO_READ
        + "\n\n"
        + "\n\n".join(parts)
    )
