"""Tell the task when fairseq-train has saved a checkpoint.

fairseq 0.12 has no hook after a save: ``Trainer.save_checkpoint`` writes the state and
returns, and neither the task nor the model hears of it. Recipe 3's run writes its two
models (an encoder checkpoint and a seq2seq checkpoint) beside every checkpoint it saves.
This wraps ``Trainer.save_checkpoint``: once it has written a checkpoint (on the rank that
writes them), the task's ``checkpoint_saved(trainer, path)`` is called, when the task has
one. Tasks without it see stock fairseq.
"""

import functools

from .patching import wrap_once

KEY = "checkpoint_saved"


def _notifying(original):
    @functools.wraps(original)
    def save_checkpoint(self, filename, extra_state):
        path = original(self, filename, extra_state)
        hook = getattr(self.task, "checkpoint_saved", None)
        if path is not None and hook is not None:
            hook(self, path)
        return path

    return save_checkpoint


def install() -> None:
    """Wrap ``Trainer.save_checkpoint``. Idempotent."""
    from fairseq.trainer import Trainer

    wrap_once(Trainer, "save_checkpoint", _notifying, KEY)
