"""Which objective each update of a joint (MLM + span denoising) run trains: recipe 3.

The schedule is a pure function of (schedule, MLM share, seed, update number), counted
from 0 as fairseq hands ``update_num`` to the task. It has no state of its own: a resumed
run, whose update count fairseq restores, takes the same objective at every update as
the uninterrupted one, and every rank of a distributed run takes the same one without
communicating (all batches of an update must train one objective, or the accumulated
gradient would mix them).

* ``alternate``: MLM at the updates where ``floor((u + 1) * share)`` steps up, so the MLM
  updates are spread evenly and the first ``U`` updates hold exactly ``floor(U * share)``
  of them (share 1/6: updates 5, 11, 17, ...);
* ``sample``: MLM with probability ``share``, drawn per update from a generator keyed by
  (seed, update): a run holds ``U * share`` of them in expectation;
* ``sum``: both objectives at every update.

Why these and their defaults: ``fairseq_recipes/recipe3.py``.
"""

from fractions import Fraction
from typing import Dict, Tuple

import numpy as np

MLM, DENOISING = "mlm", "denoising"
OBJECTIVES = (MLM, DENOISING)
SCHEDULES = ("alternate", "sample", "sum")
#: mixed into the sample schedule's generator key, so its draws are not those of any other
#: (seed, ...) stream of the project (the span noise is keyed by (seed, epoch, index))
_SAMPLE_STREAM = 0x4A4F494E  # "JOIN"
#: the share as an exact fraction (0.1667 typed on a command line is 1/6 only if asked)
_MAX_DENOMINATOR = 1_000_000


def exact_share(share) -> Fraction:
    """``share`` as a fraction with a denominator of at most 10^6 (1/6 stays 1/6)."""
    return Fraction(share).limit_denominator(_MAX_DENOMINATOR)


class ObjectiveSchedule:
    def __init__(self, schedule: str, mlm_share, seed: int):
        if schedule not in SCHEDULES:
            raise ValueError(
                f"unknown schedule {schedule!r}; expected one of {SCHEDULES}"
            )
        share = exact_share(mlm_share)
        if schedule != "sum" and not 0 < share < 1:
            raise ValueError(f"the MLM share must be in (0, 1), got {float(share):g}")
        self.schedule, self.share, self.seed = schedule, share, int(seed)

    def objectives(self, update: int) -> Tuple[str, ...]:
        """The objectives trained at ``update`` (0-based), in a fixed order."""
        if self.schedule == "sum":
            return OBJECTIVES
        if self.schedule == "alternate":
            mlm = (update + 1) * self.share // 1 > update * self.share // 1
        else:
            rng = np.random.default_rng((self.seed, _SAMPLE_STREAM, update))
            mlm = rng.random() < self.share
        return (MLM,) if mlm else (DENOISING,)

    def state(self) -> dict:
        """What must not change when a run resumes."""
        return {
            "schedule": self.schedule,
            "mlm_share": str(self.share),
            "seed": self.seed,
        }


def planned_updates(updates: int, schedule: str, mlm_share) -> Dict[str, float]:
    """Updates of each objective in a run of ``updates`` updates: exact for ``alternate``
    and ``sum``, the expectation for ``sample``."""
    share = exact_share(mlm_share)
    if schedule == "sum":
        return {MLM: updates, DENOISING: updates}
    if schedule == "alternate":
        mlm = int(updates * share // 1)
    elif schedule == "sample":
        mlm = float(updates * share)
    else:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {SCHEDULES}")
    return {MLM: mlm, DENOISING: updates - mlm}
