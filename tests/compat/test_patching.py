"""wrap_once: one wrapper per patch, however many patches stack on a function."""

import functools
from types import SimpleNamespace

from fairseq_recipes.compat.patching import is_wrapped, wrap_once


def _adding(n):
    def make(original):
        @functools.wraps(original)
        def wrapper(x):
            return original(x) + n

        return wrapper

    return make


def test_each_patch_wraps_once_and_stacked_patches_keep_their_marks():
    owner = SimpleNamespace(f=lambda x: x)
    assert wrap_once(owner, "f", _adding(1), "one") is True
    assert wrap_once(owner, "f", _adding(10), "ten") is True  # another patch on top
    # installing either again changes nothing: the outer wrapper carries both marks
    assert wrap_once(owner, "f", _adding(1), "one") is False
    assert wrap_once(owner, "f", _adding(10), "ten") is False
    assert owner.f(0) == 11
    assert is_wrapped(owner.f, "one") and is_wrapped(owner.f, "ten")
    assert not is_wrapped(owner.f, "hundred")


def test_the_installed_compat_patches_are_each_installed_once():
    from fairseq import checkpoint_utils
    from fairseq.trainer import Trainer

    import fairseq_recipes  # noqa: F401  (installs every compat patch)
    from fairseq_recipes.compat import (
        resume_fallback,
        safe_checkpoints,
        save_dir_lock,
        task_state_resume,
    )

    before = (
        Trainer.load_checkpoint,
        checkpoint_utils.load_checkpoint_to_cpu,
        checkpoint_utils.verify_checkpoint_directory,
    )
    for module in (resume_fallback, safe_checkpoints, save_dir_lock, task_state_resume):
        module.install()
    after = (
        Trainer.load_checkpoint,
        checkpoint_utils.load_checkpoint_to_cpu,
        checkpoint_utils.verify_checkpoint_directory,
    )
    assert before == after
    for key in ("resume_fallback", "task_state_resume"):
        assert is_wrapped(Trainer.load_checkpoint, key)
    for key in ("safe_checkpoints", "task_state_capture"):
        assert is_wrapped(checkpoint_utils.load_checkpoint_to_cpu, key)
