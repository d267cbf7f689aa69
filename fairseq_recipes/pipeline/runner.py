"""Run the main job's steps as a dependency graph, several at once, resumable.

A :class:`Job` is a command (a train script, ``recipes-preprocess``) or a Python call
(fine-tuning runs in a worker process that imported fairseq once, see
``eval/in_process.py``). A job whose ``done`` file exists is skipped, so a second run
reuses everything finished and a killed run resumes (the train scripts themselves resume
from ``checkpoint_last.pt``). Jobs run in a pool of ``jobs`` worker processes, each
limited to ``threads`` CPU threads; progress is a tqdm bar plus one line per finished job.
The first failure stops new jobs, lets the running ones end, and is reported with the
job's log.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Dict, List, Optional

from tqdm import tqdm

from ..errors import RecipesError
from ..eval.in_process import last_line, run_logged


@dataclass
class Job:
    name: str  # e.g. "pretrain roberta-12e"
    log: Path
    done: Path  # exists once the job has finished
    argv: List[str] = field(default_factory=list)  # a command ...
    env: Dict[str, str] = field(default_factory=dict)
    call: Optional[str] = None  # ... or "module:function", called with ``args``
    args: tuple = ()
    after: List[str] = field(default_factory=list)  # names of the jobs it needs
    summary: Optional[str] = None  # "module:function" of (job) -> one line when done

    def is_done(self) -> bool:
        return self.done.exists()


def _resolve(spec: str) -> Callable:
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


#: the process group of the command a worker is running (None between commands)
_command_group = None
_WATCH_S = 1.0  # how often a worker checks that the main job is still alive
_GRACE_S = 10.0  # SIGTERM, then SIGKILL after this long


def _stop_command() -> None:
    """End the running command and everything it started (its own process group)."""
    group = _command_group
    if group is None:
        return
    for sig, wait_s in ((signal.SIGTERM, _GRACE_S), (signal.SIGKILL, 0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + wait_s
        while time.time() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _end_worker(*_) -> None:
    _stop_command()
    os._exit(1)


def _watch_parent(parent: int) -> None:
    """A worker outlives the main job only until it notices (killed with SIGKILL, the
    main job cannot tell anyone): then its command ends too."""
    while os.getppid() == parent:
        time.sleep(_WATCH_S)
    _end_worker()


def _init_worker(threads: int, pids) -> None:
    pids.put(os.getpid())  # so that the main job can stop its workers when it stops
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    # Ctrl-C reaches the main job, which stops the workers with SIGTERM (one message,
    # no traceback per worker); a worker's command ends with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _end_worker)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    import torch

    torch.set_num_threads(threads)


def _run_command(job: Job, threads: int) -> int:
    """The job's command in a process group of its own (so that all of it can be ended),
    its output appended to the job's log; returns its exit status."""
    global _command_group
    env = {**os.environ, **job.env, "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}  # fmt: skip
    with open(job.log, "a", encoding="utf-8") as log:
        proc = subprocess.Popen(job.argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        _command_group = proc.pid
        try:
            return proc.wait()
        finally:
            _command_group = None


def _execute(job: Job, threads: int) -> str:
    """Run one job in a worker; returns its summary line, raises RecipesError."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    if job.argv:
        status = _run_command(job, threads)
        if status != 0:
            raise RecipesError(f"exit status {status}: {last_line(job.log)}")
    else:
        run_logged("failed", lambda: _resolve(job.call)(*job.args), job.log)
    job.done.parent.mkdir(parents=True, exist_ok=True)
    job.done.touch()
    return _resolve(job.summary)(job) if job.summary else ""


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop_workers(pool, pids) -> None:
    while not pids.empty():
        pid = pids.get()
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def run(jobs: List[Job], workers: int, threads: int, out=sys.stderr) -> None:
    """Run ``jobs`` (in list order where dependencies allow) on ``workers`` processes."""
    names = {job.name for job in jobs}
    for job in jobs:
        unknown = [a for a in job.after if a not in names]
        if unknown:
            raise RecipesError(f"{job.name}: depends on unknown job(s) {unknown}")
    finished = {job.name for job in jobs if job.is_done()}
    for name in sorted(finished, key=[j.name for j in jobs].index):
        print(f"reused: {name}", file=out, flush=True)
    pending = [job for job in jobs if job.name not in finished]
    reused = len(finished)
    if not pending:
        return
    # a live bar on a terminal; in a log file only the lines below
    bar = tqdm(total=len(pending), desc="main job", unit="job", file=out,
               dynamic_ncols=True, disable=not out.isatty())  # fmt: skip
    count = f"/{len(pending)}"
    failure, running = None, {}
    context = get_context("spawn")  # workers import fairseq once, and never fork a torch
    pids = context.SimpleQueue()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(threads, pids))  # fmt: skip
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        while pending or running:
            while failure is None and len(running) < workers:
                ready = [j for j in pending if all(a in finished for a in j.after)]
                if not ready:
                    break
                job = ready[0]
                pending.remove(job)
                running[pool.submit(_execute, job, threads)] = (job, time.time())
                bar.set_postfix_str(", ".join(j.name for j, _ in running.values()))
                if not out.isatty():
                    print(f"started {job.name}", file=out, flush=True)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job, start = running.pop(future)
                try:
                    summary = future.result()
                except Exception as err:  # RecipesError, or a worker that died
                    failure = failure or f"{job.name} failed (log: {job.log}): {err}"
                    bar.write(f"[{len(finished) - reused + 1}{count}] FAILED {job.name} after "
                              f"{time.time() - start:.0f}s", file=out)  # fmt: skip
                    continue
                finished.add(job.name)
                bar.update(1)
                bar.write(f"[{len(finished) - reused}{count}] done {job.name} in {time.time() - start:.0f}s"
                          + (f": {summary}" if summary else ""), file=out)  # fmt: skip
            bar.set_postfix_str(", ".join(j.name for j, _ in running.values()))
            out.flush()
    except BaseException:
        # Ctrl-C or SIGTERM: the workers end their commands (train scripts and all their
        # processes) and exit; finished jobs stay done, a rerun resumes the others
        bar.close()
        _stop_workers(pool, pids)
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    pool.shutdown(wait=True)
    bar.close()
    if failure:
        raise RecipesError(failure)
    if pending:
        raise RecipesError(
            f"jobs never became ready: {', '.join(j.name for j in pending)}"
        )
