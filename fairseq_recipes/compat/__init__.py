"""Fixes to stock fairseq 0.12 that the plugin applies when it is loaded."""

from . import (
    checkpoint_loading,
    clean_exit,
    distributed,
    fused_attention,
    safe_checkpoints,
    task_state_resume,
)


def install() -> None:
    safe_checkpoints.install()
    clean_exit.install()
    checkpoint_loading.install()
    task_state_resume.install()
    distributed.install()
    fused_attention.install()
