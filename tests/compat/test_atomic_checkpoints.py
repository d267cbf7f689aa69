"""Checkpoints appear whole or not at all, even when the process is killed mid-save."""

import subprocess
import sys
import textwrap

import pytest
import torch

# fairseq's save_checkpoint, driven by a stub trainer: a first save, then a second one
# during which the process kills itself (SIGKILL) half-way through the file copy that
# fairseq makes onto checkpoint_last.pt. "stock" undoes the plugin's fix first.
SCRIPT = textwrap.dedent("""
    import os, shutil, signal, sys, types
    import torch
    import fairseq_recipes  # noqa: F401  (installs the fix)
    from fairseq import checkpoint_utils
    from fairseq.dataclass.configs import CheckpointConfig

    mode, save_dir = sys.argv[1], sys.argv[2]
    if mode == "stock":
        checkpoint_utils.PathManager = checkpoint_utils.PathManager._path_manager
        checkpoint_utils.torch_persistent_save = (
            checkpoint_utils.torch_persistent_save.__wrapped__)

    class Trainer:
        data_parallel_rank = 0
        should_save_checkpoint_on_current_rank = True
        always_call_state_dict_during_save_checkpoint = False
        checkpoint_suffix = ""
        task = None
        def __init__(self, updates, fill):
            self.updates, self.fill = updates, fill
        def consolidate_optimizer(self):
            pass
        def get_num_updates(self):
            return self.updates
        def save_checkpoint(self, filename, extra_state):
            state = {"model": {"w": torch.full((1 << 20,), self.fill)}, "extra": extra_state}
            checkpoint_utils.torch_persistent_save(state, filename)

    class EpochIterator:
        epoch = 1
        def end_of_epoch(self):
            return False
        def state_dict(self):
            return {"epoch": 1}

    cfg = CheckpointConfig(save_dir=save_dir, save_interval_updates=1, no_epoch_checkpoints=True)
    checkpoint_utils.save_checkpoint(cfg, Trainer(1, 1.0), EpochIterator(), None)
    print("first save done", flush=True)

    def killed_half_way(src, dst, *args, **kwargs):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read(os.path.getsize(src) // 2))
            g.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def dying_copyfileobj(fsrc, fdst, length=0):
        fdst.write(fsrc.read(os.fstat(fsrc.fileno()).st_size // 2))
        fdst.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def no_links(*args, **kwargs):
        raise OSError("hard links are not supported here")

    shutil.copyfile = killed_half_way          # fairseq's plain copy
    shutil.copyfileobj = dying_copyfileobj     # the plugin's copy where links fail
    os.link = no_links
    checkpoint_utils.save_checkpoint(cfg, Trainer(2, 2.0), EpochIterator(), None)
    print("second save done", flush=True)
    """)


def _save_and_die(mode, save_dir):
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(save_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stock_fairseq_leaves_a_truncated_checkpoint_last(tmp_path):
    """The failure the fix exists for; if fairseq changes, this test says so."""
    proc = _save_and_die("stock", tmp_path)
    assert proc.returncode == -9 and "first save done" in proc.stdout, proc.stderr[-800:]
    assert (tmp_path / "checkpoint_1_2.pt").is_file()  # the complete save beside it
    last = tmp_path / "checkpoint_last.pt"
    assert last.stat().st_size < (tmp_path / "checkpoint_1_2.pt").stat().st_size
    with pytest.raises(Exception):
        torch.load(last, weights_only=True)


def test_a_kill_during_the_copy_leaves_the_previous_checkpoint_last(tmp_path):
    proc = _save_and_die("patched", tmp_path)
    assert proc.returncode == -9 and "first save done" in proc.stdout, proc.stderr[-800:]
    last = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert torch.equal(last["model"]["w"], torch.full((1 << 20,), 1.0))
    # the dead writer's temporary file is all that is left; the next save removes it
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert leftovers and all(
        name.startswith(".checkpoint_last.pt.tmp-") for name in leftovers
    )

    from fairseq_recipes.atomic_files import atomic_copy

    atomic_copy(tmp_path / "checkpoint_1_2.pt", tmp_path / "checkpoint_last.pt")
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    new = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert torch.equal(new["model"]["w"], torch.full((1 << 20,), 2.0))


def test_saves_are_flushed_then_renamed(tmp_path, monkeypatch):
    """The content reaches the disk (fsync) before the name does (rename)."""
    import os

    from fairseq import checkpoint_utils

    import fairseq_recipes  # noqa: F401

    events = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), fsync(fd))[1])
    monkeypatch.setattr(
        os,
        "replace",
        lambda a, b: (events.append(("rename", os.path.basename(b))), replace(a, b))[1],
    )
    checkpoint_utils.torch_persistent_save({"w": torch.ones(3)}, str(tmp_path / "c.pt"))
    assert events[:2] == ["fsync", ("rename", "c.pt")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]
