"""The report's loss figures: training loss as fairseq logs it per update (never the
epoch's average put at the epoch's last update), and validation loss per language, read
from fairseq's JSON log."""

from types import SimpleNamespace

import pytest

from fairseq_recipes import train_log
from fairseq_recipes.eval import report as eval_report
from fairseq_recipes.pipeline import report


def _plan(tmp_path, logs):
    """What the figures read of a plan: the models and their train.log."""
    for model, text in logs.items():
        (tmp_path / model).mkdir(parents=True)
        (tmp_path / model / "train.log").write_text(text)
    return SimpleNamespace(cfg=SimpleNamespace(models=list(logs)), checkpoints=tmp_path)


@pytest.fixture
def figures(monkeypatch):
    """The figures drawn, by file name, instead of closed after saving."""
    drawn = {}

    def keep(fig, path):
        drawn[path.name] = fig
        return path

    monkeypatch.setattr(eval_report, "save_figure", keep)
    return drawn


def test_the_training_curve_is_per_update_not_the_epoch_average(smoke, tmp_path, figures):
    _, log = smoke("roberta-12e")  # LOG_INTERVAL=1
    inner = train_log.records(log, "train_inner")
    (epoch,) = train_log.records(log, "train")[-1:]
    curve = report.train_losses(log)
    assert curve == [(int(r["num_updates"]), r["loss"]) for r in inner]
    assert [u for u, _ in curve] == list(range(1, len(curve) + 1))
    # the epoch's average is over the epoch, not the loss at its last update
    last = int(epoch["train_num_updates"])
    assert curve[-1][0] == last and curve[-1][1] != epoch["train_loss"]
    # the figure plots exactly these points; the summary line reports the last one
    report.loss_figure(_plan(tmp_path, {"roberta-12e": log}), tmp_path)
    (line,) = figures["loss.png"].axes[0].lines
    assert [tuple(p) for p in line.get_xydata()] == [(float(u), v) for u, v in curve]
    job = SimpleNamespace(done=tmp_path / "roberta-12e" / ".done")
    assert report.pretrain_summary(job) == f"update {last}, loss {curve[-1][1]:.3f}"


def test_validation_loss_per_language(smoke, data_bin, tmp_path, figures):
    _, log = smoke("roberta-12e")
    langs = sorted(p.name for p in (data_bin / "shard0").iterdir() if p.is_dir())
    valid = report.valid_losses(log)
    assert sorted(valid) == langs
    for lang, points in valid.items():
        records = train_log.per_update(log, f"valid_{lang}")
        assert points == [
            (u, r[f"valid_{lang}_loss"]) for u, r in sorted(records.items())
        ]
    _, denoising_log = smoke("bart-12e2d")
    plan = _plan(tmp_path, {"roberta-12e": log, "bart-12e2d": denoising_log})
    report.valid_loss_figure(plan, tmp_path)
    axes = figures["valid_loss.png"].axes
    assert len(axes) == 2 * len(langs)  # a row per objective, a column per language
    for column, lang in enumerate(langs):
        (mlm,) = axes[column].lines  # row 1: MLM
        (spans,) = axes[len(langs) + column].lines  # row 2: span denoising
        assert [tuple(p) for p in mlm.get_xydata()] == [
            (float(u), v) for u, v in valid[lang]
        ]
        assert spans.get_label() == "bart-12e2d" and lang in axes[column].get_title()
