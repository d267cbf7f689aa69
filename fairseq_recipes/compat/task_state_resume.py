"""Give a task its saved state back when fairseq-train resumes.

fairseq 0.12 saves ``task.state_dict()`` in every checkpoint (``task_state``) but only
``load_model_ensemble_and_task`` restores it; ``Trainer.load_checkpoint`` (resuming a
run) does not. This wraps it: the task state of the checkpoint it reads goes to the
task's ``resume_state_dict(state)``, when the task has one and the run continues
(``--reset-meters``, which ``--finetune-from-model`` implies, starts a new run); first, in
every case, to the task's ``check_resumed_state(state, path)``, which refuses a checkpoint
trained on other data (the pre-training tasks compare dictionaries). The state is the one
rank 0 read; the other ranks receive the checkpoint by broadcast, and their
tasks keep their own (they neither log nor save).
"""

import functools
import threading

from .patching import wrap_once

_capture = threading.local()


def _capturing_loader(original):
    @functools.wraps(original)
    def load_checkpoint_to_cpu(*args, **kwargs):
        state = original(*args, **kwargs)
        if getattr(_capture, "active", False):
            _capture.task_state = state.get("task_state")
            # before the weights go into the model: a checkpoint of other data is refused
            # in one line, not by a size mismatch deep in load_state_dict
            check = getattr(_capture.task, "check_resumed_state", None)
            if _capture.task_state is not None and check is not None:
                check(_capture.task_state, args[0] if args else kwargs.get("path"))
        return state

    return load_checkpoint_to_cpu


def _resuming_trainer(original):
    @functools.wraps(original)
    def load_checkpoint(self, filename, *args, **kwargs):
        _capture.active, _capture.task_state, _capture.task = True, None, self.task
        try:
            extra_state = original(self, filename, *args, **kwargs)
        finally:
            _capture.active, _capture.task = False, None
        reset_meters = kwargs.get("reset_meters", args[3] if len(args) > 3 else False)
        resume = getattr(self.task, "resume_state_dict", None)
        if _capture.task_state and resume is not None and not reset_meters:
            resume(_capture.task_state)
        return extra_state

    return load_checkpoint


def install() -> None:
    """Wrap fairseq's checkpoint reader and ``Trainer.load_checkpoint``. Idempotent."""
    from fairseq import checkpoint_utils
    from fairseq.trainer import Trainer

    wrap_once(
        checkpoint_utils,
        "load_checkpoint_to_cpu",
        _capturing_loader,
        "task_state_capture",
    )
    wrap_once(Trainer, "load_checkpoint", _resuming_trainer, "task_state_resume")
