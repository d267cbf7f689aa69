"""Stop fairseq's background prefetch threads before the interpreter finalizes.

fairseq's ``BufferedIterator`` (``--data-buffer-size``, on by default) fills a queue from a
daemon ``BackgroundConsumer`` thread that iterates the DataLoader and so runs the batch
collation (torch ops) itself. When training stops in the middle of an epoch (e.g. at
``--max-update`` after a resume) nothing stops that thread: it is still producing batches
when ``Py_FinalizeEx`` runs, and a daemon thread that tries to take the GIL back during
finalization is unwound by ``pthread_exit`` through torch's C++ frames, which ends in
``std::terminate`` ("terminate called without an active exception", exit status 134).

The fix keeps prefetching: consumers become stoppable (``put`` with a timeout that checks a
stop event) and an ``atexit`` hook, which runs before finalization, stops and joins every
live consumer.
"""

import atexit
import queue
import threading
import weakref

from .patching import wrap_once

_STOP_POLL_S = 0.05
_JOIN_TIMEOUT_S = 30.0
_live = weakref.WeakSet()


def _stoppable_consumer(base):
    class StoppableBackgroundConsumer(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._stop_event = threading.Event()
            # The wrapped producer always ends by putting the sentinel or an
            # exception; after a stop nobody reads them, so drop them.
            self._queue = _StoppableQueue(self._queue, self._stop_event)
            _live.add(self)

        def stop(self):
            self._stop_event.set()
            if self.is_alive() and self is not threading.current_thread():
                self.join(_JOIN_TIMEOUT_S)

    return StoppableBackgroundConsumer


class _StoppedError(Exception):
    pass


class _StoppableQueue:
    """The consumer's view of the shared queue: ``put`` gives up once stopped."""

    def __init__(self, inner: queue.Queue, stop: threading.Event):
        self._inner = inner
        self._stop = stop

    def put(self, item, block=True, timeout=None):
        while not self._stop.is_set():
            try:
                return self._inner.put(item, timeout=_STOP_POLL_S)
            except queue.Full:
                continue
        # Raising ends BackgroundConsumer.run's loop; its ``except Exception``
        # then calls put again, which returns here at once.
        if not isinstance(item, _StoppedError):
            raise _StoppedError()

    def __getattr__(self, name):
        return getattr(self._inner, name)


def stop_background_consumers() -> int:
    """Stop and join every live prefetch thread; returns how many were running."""
    running = [c for c in list(_live) if c.is_alive()]
    for consumer in running:
        consumer.stop()
    return len(running)


def install() -> None:
    """Make fairseq's prefetch threads stoppable and stop them at exit. Idempotent."""
    from fairseq.data import iterators

    if wrap_once(iterators, "BackgroundConsumer", _stoppable_consumer, "clean_exit"):
        atexit.register(stop_background_consumers)
