"""fairseq's prefetch thread must not abort the interpreter at exit."""

import subprocess
import sys
import textwrap

import pytest

# A BufferedIterator (what fairseq wraps every epoch iterator in) over a source that keeps
# running torch ops, abandoned after three items: what a run stopping at --max-update in
# the middle of an epoch leaves behind.
SCRIPT = textwrap.dedent("""
    import sys, torch
    import fairseq_recipes  # noqa: F401  (installs the fix)
    from fairseq.data import iterators
    if sys.argv[1] == "stock":
        iterators.BackgroundConsumer = iterators.BackgroundConsumer.__mro__[1]

    class Busy:
        def __len__(self):
            return 10**6
        def __iter__(self):
            a = torch.randn(300, 300)
            while True:
                for _ in range(10):
                    a = torch.tanh(a @ a)
                yield a.sum()

    it = iterators.BufferedIterator(2, Busy())
    for _ in range(3):
        next(it)
    print("main done", flush=True)
    """)


def _run(mode):
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120
    )


def test_stock_fairseq_aborts_at_exit():
    """The failure the fix exists for; if fairseq changes, this test says so."""
    proc = _run("stock")
    assert "main done" in proc.stdout
    assert proc.returncode == -6 or proc.returncode == 134, proc.stderr[-500:]
    assert "terminate called" in proc.stderr


@pytest.mark.parametrize("attempt", range(3))
def test_patched_exits_cleanly(attempt):
    proc = _run("patched")
    assert proc.returncode == 0, proc.stderr[-500:]
    assert "main done" in proc.stdout


def test_stop_joins_a_consumer_blocked_on_a_full_queue():
    from fairseq.data import iterators

    import fairseq_recipes  # noqa: F401
    from fairseq_recipes.compat.clean_exit import stop_background_consumers

    it = iterators.BufferedIterator(1, list(range(100)))
    assert next(it) == 0
    consumer = it._consumer
    assert consumer.is_alive()  # blocked putting into the full queue
    assert stop_background_consumers() >= 1
    assert not consumer.is_alive()
