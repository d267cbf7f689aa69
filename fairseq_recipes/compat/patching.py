"""Wrapping a fairseq function once, whatever wraps it after.

``wrap_once(owner, name, make, key)`` replaces ``owner.name`` by ``make(current)`` unless
the current one already carries this patch's mark. Each patch has its own ``key``:
several patches wrap the same function (``Trainer.load_checkpoint``: the resume fallback
and the task-state resume), and ``functools.wraps`` copies the inner wrapper's marks onto
the outer one, so every patch still recognises itself and installing twice is a no-op.
"""


def mark(key: str) -> str:
    return f"_fairseq_recipes_{key}"


def is_wrapped(function, key: str) -> bool:
    return bool(getattr(function, mark(key), False))


def wrap_once(owner, name: str, make, key: str) -> bool:
    """Wrap ``owner.name`` with ``make`` unless patch ``key`` did; True if it wrapped."""
    current = getattr(owner, name)
    if is_wrapped(current, key):
        return False
    wrapped = make(current)
    setattr(wrapped, mark(key), True)
    setattr(owner, name, wrapped)
    return True
