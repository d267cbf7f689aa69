"""The task hears of every checkpoint fairseq-train saves (recipe 3 writes its two models
then); stock fairseq tells it nothing."""

from types import SimpleNamespace

import pytest
from fairseq import checkpoint_utils
from fairseq.trainer import Trainer

import fairseq_recipes  # noqa: F401  (installs the hook)
from fairseq_recipes.compat.checkpoint_saved import KEY, _notifying
from fairseq_recipes.compat.patching import is_wrapped


class _Task:
    def __init__(self):
        self.calls = []

    def checkpoint_saved(self, trainer, path):
        self.calls.append(path)

    def state_dict(self):
        return {}


def _trainer(task, saves=True):
    """What Trainer.save_checkpoint reads of its trainer."""
    return SimpleNamespace(
        task=task,
        should_save_checkpoint_on_current_rank=saves,
        state_dict=lambda: {"model": {}, "extra_state": {}},
        cfg=SimpleNamespace(
            checkpoint=SimpleNamespace(write_checkpoints_asynchronously=False)
        ),
    )


@pytest.fixture
def no_write(monkeypatch):
    written = []
    monkeypatch.setattr(
        checkpoint_utils,
        "torch_persistent_save",
        lambda state, filename, async_write=False: written.append(filename),
    )
    return written


def test_stock_fairseq_calls_no_task_hook_after_a_save(no_write):
    stock = Trainer.save_checkpoint.__wrapped__
    task = _Task()
    assert stock(_trainer(task), "/tmp/ck/checkpoint_last.pt", {}) is not None
    assert no_write == ["/tmp/ck/checkpoint_last.pt"] and task.calls == []


def test_the_hook_follows_every_save_on_the_saving_rank_only(no_write):
    task = _Task()
    save = _notifying(Trainer.save_checkpoint.__wrapped__)
    path = save(_trainer(task), "/tmp/ck/checkpoint_1_5.pt", {})
    assert task.calls == [path] and path.endswith("checkpoint_1_5.pt")
    assert save(_trainer(task, saves=False), "/tmp/ck/checkpoint_1_6.pt", {}) is None
    assert task.calls == [path]
    # a task without the hook: stock behaviour
    assert save(_trainer(SimpleNamespace()), "/tmp/ck/x.pt", {}) is not None
    assert is_wrapped(Trainer.save_checkpoint, KEY)
