"""``--lr-scheduler recipes_exponential_warmup``: exponential warmup, then linear decay.

The paper's seq2seq fine-tuning (mTOP, XSUM) warms the learning rate up exponentially
from 1e-7 to the peak 5e-6 over 1000 updates, then decays it linearly to 1e-7 at the last
update. fairseq's schedulers warm up linearly only.

Why geometric: a linear warmup leaves the small rates almost at once (from 1e-7 to 5e-6
it spends 18% of its updates below 1e-6). A geometric warmup multiplies the rate by the
same factor every update, ``(peak / init) ** (1 / warmup)``, so every order of magnitude
between ``init`` and ``peak`` gets an equal share of the updates (59% below 1e-6): the
first, largest and noisiest gradients of a freshly fine-tuned model (new heads, a new
task format) are taken with rates near ``init`` rather than near the peak.

With ``t`` the number of updates done, ``W = --warmup-updates``,
``T = --total-num-update`` (``--max-update`` by default)::

    lr(t) = init * (peak / init) ** (t / W)                  0 <= t <= W
    lr(t) = peak - (peak - end) * (t - W) / (T - W)           W <  t <  T
    lr(t) = end                                               T <= t

so ``lr(0) = init``, ``lr(W) = peak``, ``lr(W / 2) = sqrt(init * peak)``. With ``W = 0``
training starts at the peak. The rate is a function of ``t`` alone, so a resumed run
continues the schedule where it stopped.
"""

from dataclasses import dataclass, field
from typing import List, Optional

from fairseq.dataclass import FairseqDataclass
from fairseq.optim.lr_scheduler import FairseqLRScheduler, register_lr_scheduler
from omegaconf import II

from fairseq_recipes import paper
from fairseq_recipes.errors import RecipesError


@dataclass
class ExponentialWarmupConfig(FairseqDataclass):
    warmup_updates: int = field(
        default=paper.SEQ2SEQ_FINETUNE_WARMUP_UPDATES,
        metadata={
            "help": "warm the learning rate up geometrically over the first N updates "
            "(paper, seq2seq fine-tuning: 1000)"
        },
    )
    warmup_init_lr: float = field(
        default=paper.SEQ2SEQ_FINETUNE_INIT_LR,
        metadata={
            "help": "learning rate at update 0, where the warmup starts; must be > 0 "
            "(paper: 1e-7)"
        },
    )
    end_learning_rate: float = field(
        default=paper.SEQ2SEQ_FINETUNE_END_LR,
        metadata={"help": "learning rate the linear decay ends at (paper: 1e-7)"},
    )
    # Optional: fairseq's option parsing turns an omitted --total-num-update into null
    # rather than keeping the interpolation (fairseq issue #4064, which breaks its own
    # polynomial_decay without --total-num-update); null then means max_update below
    total_num_update: Optional[float] = field(
        default=II("optimization.max_update"),
        metadata={
            "help": "update at which the linear decay reaches --end-learning-rate "
            "(default: --max-update)"
        },
    )
    #: the fallback of total_num_update (no help: not an option of its own)
    max_update: int = II("optimization.max_update")
    #: the peak, reached at the end of the warmup
    lr: List[float] = II("optimization.lr")


def _total(cfg) -> float:
    total = cfg.total_num_update
    return cfg.max_update if total is None else total


def _check(cfg) -> None:
    """One-line RecipesError for a configuration the schedule cannot follow."""
    if len(cfg.lr) != 1:
        raise RecipesError(
            f"--lr-scheduler recipes_exponential_warmup takes one --lr (the peak), "
            f"got {','.join(map(str, cfg.lr))}"
        )
    peak, warmup, init = cfg.lr[0], cfg.warmup_updates, cfg.warmup_init_lr
    end, total = cfg.end_learning_rate, _total(cfg)
    if warmup < 0:
        raise RecipesError(f"--warmup-updates must be >= 0, got {warmup}")
    if warmup > 0:
        if init <= 0:
            raise RecipesError(
                f"--warmup-init-lr must be > 0: the warmup is geometric (got {init})"
            )
        if init > peak:
            raise RecipesError(
                f"--warmup-init-lr ({init}) must be <= the peak --lr ({peak})"
            )
    if not 0 <= end <= peak:
        raise RecipesError(
            f"--end-learning-rate ({end}) must be between 0 and the peak --lr ({peak})"
        )
    if end < peak and total <= warmup:
        raise RecipesError(
            f"--total-num-update (default --max-update) must be > --warmup-updates "
            f"for the decay to --end-learning-rate: got {total:g} <= {warmup}"
        )


def exponential_warmup_lr(
    num_updates: float,
    *,
    peak: float,
    init: float,
    end: float,
    warmup: int,
    total: float,
) -> float:
    """The learning rate after ``num_updates`` updates (the module docstring's lr(t))."""
    if num_updates < warmup:
        return init * (peak / init) ** (num_updates / warmup)
    if num_updates >= total:
        return end
    return peak - (peak - end) * (num_updates - warmup) / (total - warmup)


@register_lr_scheduler("recipes_exponential_warmup", dataclass=ExponentialWarmupConfig)
class ExponentialWarmupSchedule(FairseqLRScheduler):
    """Geometric warmup from ``--warmup-init-lr`` to ``--lr``, linear decay to
    ``--end-learning-rate`` at ``--total-num-update``."""

    def __init__(self, cfg: ExponentialWarmupConfig, optimizer):
        super().__init__(cfg, optimizer)
        _check(cfg)
        self.peak = cfg.lr[0]
        self.init = cfg.warmup_init_lr
        self.end = cfg.end_learning_rate
        self.warmup = cfg.warmup_updates
        self.total = _total(cfg)
        self.optimizer.set_lr(self.lr_at(0))

    def lr_at(self, num_updates: float) -> float:
        return exponential_warmup_lr(
            num_updates,
            peak=self.peak,
            init=self.init,
            end=self.end,
            warmup=self.warmup,
            total=self.total,
        )

    def step(self, epoch, val_loss=None):
        """End of an epoch: the rate follows the update count only."""
        super().step(epoch, val_loss)
        return self.optimizer.get_lr()

    def step_update(self, num_updates):
        """Set the rate for the update after ``num_updates`` and return it."""
        self.optimizer.set_lr(self.lr_at(num_updates))
        return self.optimizer.get_lr()
