"""recipes_exponential_warmup: values at chosen updates, errors, the CLI, a real run."""

import math
import re
import sys

import pytest
import torch
from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.optim import build_optimizer
from fairseq.optim.adam import FairseqAdam, FairseqAdamConfig
from fairseq.optim.lr_scheduler import build_lr_scheduler
from helpers import PLUGIN, run
from omegaconf import OmegaConf

from fairseq_recipes import paper
from fairseq_recipes.errors import RecipesError
from fairseq_recipes.optim.exponential_warmup import (
    ExponentialWarmupConfig,
    ExponentialWarmupSchedule,
)

PEAK, INIT, END, WARMUP = 5e-6, 1e-7, 1e-7, 1000
TOTAL = 5000


def _optimizer(lr):
    params = list(torch.nn.Linear(2, 2).parameters())
    cfg = OmegaConf.structured(
        FairseqAdamConfig(lr=[lr], adam_betas=str(paper.FINETUNE_ADAM_BETAS), tpu=False)
    )
    return FairseqAdam(cfg, params)


def _scheduler(peak=PEAK, **kw):
    kw = {"total_num_update": TOTAL, **kw}
    lrs = peak if isinstance(peak, list) else [peak]
    cfg = ExponentialWarmupConfig(lr=lrs, **kw)
    return ExponentialWarmupSchedule(cfg, _optimizer(lrs[0]))


def test_defaults_are_the_papers():
    cfg = ExponentialWarmupConfig()
    assert cfg.warmup_updates == paper.SEQ2SEQ_FINETUNE_WARMUP_UPDATES == 1000
    assert cfg.warmup_init_lr == paper.SEQ2SEQ_FINETUNE_INIT_LR == 1e-7
    assert cfg.end_learning_rate == paper.SEQ2SEQ_FINETUNE_END_LR == 1e-7


def test_values_at_chosen_updates():
    s = _scheduler()
    # the constructor sets the rate of the first update
    assert s.optimizer.get_lr() == pytest.approx(INIT, rel=1e-12)
    assert s.step_update(0) == pytest.approx(INIT, rel=1e-12)
    assert s.step_update(500) == pytest.approx(math.sqrt(INIT * PEAK), rel=1e-9)
    assert s.step_update(250) == pytest.approx(INIT * (PEAK / INIT) ** 0.25, rel=1e-9)
    assert s.step_update(WARMUP) == pytest.approx(PEAK, rel=1e-12)
    mid = WARMUP + (TOTAL - WARMUP) // 2
    assert s.step_update(mid) == pytest.approx((PEAK + END) / 2, rel=1e-12)
    assert s.step_update(TOTAL) == pytest.approx(END, rel=1e-12)
    assert s.step_update(TOTAL + 1) == pytest.approx(END, rel=1e-12)
    assert s.step_update(10 * TOTAL) == pytest.approx(END, rel=1e-12)
    # the optimizer's param groups carry the rate
    assert all(g["lr"] == s.optimizer.get_lr() for g in s.optimizer.param_groups)


def test_monotone():
    s = _scheduler()
    warm = [s.step_update(t) for t in range(WARMUP + 1)]
    decay = [s.step_update(t) for t in range(WARMUP, TOTAL + 2)]
    assert all(a < b for a, b in zip(warm, warm[1:]))
    assert all(a > b for a, b in zip(decay[:-2], decay[1:-1]))
    assert decay[-1] == decay[-2] == END
    # geometric: the same ratio between consecutive updates throughout the warmup
    ratios = [b / a for a, b in zip(warm, warm[1:])]
    assert ratios == pytest.approx([(PEAK / INIT) ** (1 / WARMUP)] * WARMUP, rel=1e-9)


def test_epoch_steps_follow_the_update_count():
    s = _scheduler()
    s.step_update(300)
    assert s.step(1, val_loss=2.0) == s.step_update(300)
    s.step_begin_epoch(2)
    assert s.optimizer.get_lr() == s.step_update(300)


def test_no_warmup_starts_at_the_peak():
    s = _scheduler(warmup_updates=0)
    assert s.optimizer.get_lr() == PEAK
    assert s.step_update(0) == PEAK
    assert s.step_update(TOTAL // 2) == pytest.approx((PEAK + END) / 2)
    assert s.step_update(TOTAL) == END


def test_total_defaults_to_max_update():
    s = _scheduler(total_num_update=None, max_update=3000)
    assert s.step_update(2000) == pytest.approx((PEAK + END) / 2, rel=1e-12)
    assert s.step_update(3000) == END


def test_no_decay_needs_no_total():
    s = _scheduler(end_learning_rate=PEAK, total_num_update=0)
    assert s.step_update(0) == pytest.approx(INIT)
    assert s.step_update(WARMUP) == pytest.approx(PEAK)
    assert s.step_update(10 * WARMUP) == PEAK


@pytest.mark.parametrize(
    "kw, message",
    [
        (
            dict(warmup_init_lr=0.0),
            "--warmup-init-lr must be > 0: the warmup is geometric",
        ),
        (dict(warmup_init_lr=-1e-7), "--warmup-init-lr must be > 0"),
        (dict(warmup_init_lr=1e-5), "--warmup-init-lr (1e-05) must be <= the peak --lr"),
        (
            dict(total_num_update=1000),
            "--total-num-update (default --max-update) must be",
        ),
        (dict(total_num_update=0), "must be > --warmup-updates"),
        (dict(peak=[5e-6, 1e-6]), "takes one --lr (the peak), got 5e-06,1e-06"),
        (dict(end_learning_rate=1e-5), "--end-learning-rate (1e-05) must be between"),
        (dict(warmup_updates=-1), "--warmup-updates must be >= 0"),
    ],
)
def test_errors(kw, message):
    with pytest.raises(RecipesError) as err:
        _scheduler(**kw)
    text = str(err.value)
    assert message in text and "\n" not in text


def _parse(*args):
    parser = options.get_training_parser()
    return options.parse_args_and_arch(
        parser,
        [
            "data",
            "--user-dir",
            str(PLUGIN),
            "--cpu",
            "--task",
            "language_modeling",
            "--arch",
            "transformer_lm",
            "--optimizer",
            "adam",
            "--lr-scheduler",
            "recipes_exponential_warmup",
            *map(str, args),
        ],
    )


def test_cli_defaults():
    ns = _parse("--lr", PEAK, "--max-update", 3000)
    assert ns.warmup_updates == 1000
    assert ns.warmup_init_lr == 1e-7 and ns.end_learning_rate == 1e-7
    cfg = convert_namespace_to_omegaconf(ns)
    assert cfg.lr_scheduler._name == "recipes_exponential_warmup"
    # the interpolations resolve to the optimization options; an omitted
    # --total-num-update parses to None (fairseq issue #4064), meaning max_update
    assert cfg.lr_scheduler.total_num_update is None
    assert cfg.lr_scheduler.max_update == 3000
    assert list(cfg.lr_scheduler.lr) == [PEAK]
    params = list(torch.nn.Linear(2, 2).parameters())
    s = build_lr_scheduler(cfg.lr_scheduler, build_optimizer(cfg.optimizer, params))
    assert isinstance(s, ExponentialWarmupSchedule)
    assert s.optimizer.get_lr() == pytest.approx(1e-7)
    assert s.step_update(500) == pytest.approx(math.sqrt(1e-7 * PEAK), rel=1e-9)
    assert s.step_update(2000) == pytest.approx((PEAK + 1e-7) / 2, rel=1e-12)


def test_cli_overrides():
    ns = _parse(
        "--lr",
        1e-4,
        "--max-update",
        100,
        "--warmup-updates",
        10,
        "--warmup-init-lr",
        1e-6,
        "--end-learning-rate",
        0,
        "--total-num-update",
        50,
    )
    cfg = convert_namespace_to_omegaconf(ns)
    params = list(torch.nn.Linear(2, 2).parameters())
    s = build_lr_scheduler(cfg.lr_scheduler, build_optimizer(cfg.optimizer, params))
    assert s.step_update(5) == pytest.approx(1e-5, rel=1e-9)
    assert s.step_update(30) == pytest.approx(5e-5, rel=1e-12)
    assert s.step_update(50) == 0.0


# the plugin's __init__ may not import fairseq_recipes.optim yet: register it first
_TRAIN = (
    "import sys, fairseq_recipes.optim.exponential_warmup; "
    "from fairseq_cli.train import cli_main; sys.argv[0] = 'fairseq-train'; cli_main()"
)


def test_training_run_logs_the_geometric_warmup(tmp_path):
    text = tmp_path / "train.txt"
    words = [f"w{i}" for i in range(40)]
    text.write_text(
        "".join(
            " ".join(words[(i + j) % 40] for j in range(12)) + "\n" for i in range(64)
        )
    )
    data = tmp_path / "bin"
    run(
        [
            sys.executable,
            "-m",
            "fairseq_cli.preprocess",
            "--only-source",
            "--trainpref",
            text,
            "--validpref",
            text,
            "--destdir",
            data,
            "--workers",
            "1",
        ]
    )
    init, peak, warmup = 1e-6, 1e-4, 4
    proc = run(
        [
            sys.executable,
            "-c",
            _TRAIN,
            data,
            "--user-dir",
            PLUGIN,
            "--cpu",
            "--task",
            "language_modeling",
            "--tokens-per-sample",
            16,
            "--arch",
            "transformer_lm",
            "--decoder-layers",
            1,
            "--decoder-embed-dim",
            16,
            "--decoder-output-dim",
            16,
            "--decoder-input-dim",
            16,
            "--decoder-ffn-embed-dim",
            32,
            "--decoder-attention-heads",
            2,
            "--optimizer",
            "adam",
            "--lr",
            peak,
            "--lr-scheduler",
            "recipes_exponential_warmup",
            "--warmup-updates",
            warmup,
            "--warmup-init-lr",
            init,
            "--end-learning-rate",
            init,
            "--total-num-update",
            100,
            "--max-update",
            3,
            "--batch-size",
            4,
            "--log-interval",
            1,
            "--log-format",
            "simple",
            "--no-save",
            "--disable-validation",
            "--num-workers",
            0,
            "--seed",
            1,
        ]
    )
    log = proc.stdout + proc.stderr
    inner = re.findall(r"train_inner.*?num_updates=(\d+), lr=([\d.e+-]+)", log)
    lrs = {int(n): float(lr) for n, lr in inner}
    assert sorted(lrs) == [1, 2, 3], log[-3000:]
    # the rate logged at update n is the one set after it: init * (peak/init)**(n/W)
    for n, lr in lrs.items():
        assert lr == pytest.approx(init * (peak / init) ** (n / warmup), rel=1e-5)
