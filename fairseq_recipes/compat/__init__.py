"""Fixes to stock fairseq 0.12 that the plugin applies when it is loaded."""

from . import (
    atomic_checkpoints,
    checkpoint_loading,
    checkpoint_saved,
    clean_exit,
    distributed,
    fused_attention,
    load_without_init,
    resume_fallback,
    safe_checkpoints,
    save_dir_lock,
    task_state_resume,
)


def install() -> None:
    safe_checkpoints.install()
    atomic_checkpoints.install()
    clean_exit.install()
    checkpoint_loading.install()
    checkpoint_saved.install()
    task_state_resume.install()
    resume_fallback.install()
    save_dir_lock.install()
    distributed.install()
    fused_attention.install()
    load_without_init.install()
