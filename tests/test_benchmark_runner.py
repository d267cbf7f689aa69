"""The benchmark runner: one table of every figure, and the same figures as JSON."""

import json
import sys
import types

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT))
import benchmarks.__main__ as runner  # noqa: E402


@pytest.fixture
def fake_benchmarks(monkeypatch):
    figures = {
        "fake_a": {"ratio": 0.7204, "goal_met": True, "stage": {"seconds": 6.5}},
        "fake_b": {"count": 3},
    }
    for name, result in figures.items():
        module = types.ModuleType(name)
        module.run = lambda quick, result=result: dict(result, quick=quick)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(runner, "BENCHMARKS", list(figures))


def test_runner_prints_one_table_and_writes_json(fake_benchmarks, tmp_path, capsys):
    out = tmp_path / "bench.json"
    runner.main(["--quick", "--json", str(out)])
    table = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert table["fake_a.ratio"] == "0.720"
    assert table["fake_a.stage.seconds"] == "6.500"
    assert table["fake_a.goal_met"] == "True" and table["fake_b.count"] == "3"
    saved = json.loads(out.read_text())
    assert saved["fake_a"]["ratio"] == 0.7204 and saved["fake_b"]["quick"] is True
    assert not (tmp_path / "bench.json.tmp").exists()


def test_runner_runs_only_what_is_asked(fake_benchmarks, capsys):
    runner.main(["--only", "fake_b"])
    keys = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert keys == ["fake_b.count", "fake_b.quick", "fake_b._seconds"]


def test_the_profiled_split_of_a_step_counts_each_kind_once():
    import torch

    from benchmarks.attention_kernels import _kernel_split

    a = torch.randn(256, 256)
    split = _kernel_split(
        lambda: (a @ a, torch.bmm(a[None], a[None]), torch.empty(4096).bernoulli_(0.5))
    )
    parts = ("matrix_products_s", "dropout_masks_s", "rest_s")
    assert split["step_s"] == pytest.approx(sum(split[p] for p in parts))
    assert split["matrix_products_s"] > 0 and split["dropout_masks_s"] > 0
    assert split["rest_s"] >= 0
    nothing = _kernel_split(lambda: a.add(1))
    assert nothing["matrix_products_s"] == nothing["dropout_masks_s"] == 0
    assert nothing["rest_s"] == nothing["step_s"] > 0
