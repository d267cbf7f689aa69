"""Run the main job's steps as a dependency graph, several at once, resumable.

A :class:`Job` is a command (a train script, ``recipes-preprocess``) or a Python call
(fine-tuning runs in a worker process that imported fairseq once, see
``eval/in_process.py``). A job whose ``done`` file exists is skipped, so a second run
reuses everything finished and a killed run resumes (the train scripts themselves resume
from ``checkpoint_last.pt``). Jobs run in a pool of ``jobs`` worker processes, each
limited to ``threads`` CPU threads; progress is a tqdm bar plus one line per finished job.
The first failure stops new jobs, lets the running ones end, and is reported with the
job's log.

Every job's resources are written beside its log (``<log>.resources.json``): seconds,
the peak resident memory of its largest process (the kernel's high-water mark, exact)
and the peak of the sum over its process tree sampled every second (data-loading
workers included). A job can be interrupted once on purpose (``interrupt``: killed with
SIGKILL, as a preemption or an out-of-memory kill would, when its log matches) and is
then run again with the same command, which must resume: the rehearsal's resume.
"""

import ctypes
import gc
import json
import os
import re
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

from ..atomic_files import write_text
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
    #: "module:function" of (job) run once the work succeeded, before ``done`` is
    #: written (measure, tidy up); a failure fails the job
    finish: Optional[str] = None
    finish_args: tuple = ()  # more arguments of ``finish``
    #: a command job: kill it (SIGKILL to its process group) the first time its log
    #: matches this pattern, then run the same command again
    interrupt: Optional[str] = None

    def is_done(self) -> bool:
        return self.done.exists()

    @property
    def resources(self) -> Path:
        """Where the job's measured resources are written (JSON)."""
        return self.log.with_name(self.log.stem + ".resources.json")

    @property
    def interrupted(self) -> Path:
        """Exists once the job was interrupted on purpose (it never is twice)."""
        return self.log.with_name(self.log.stem + ".interrupted")


def _children() -> Dict[int, List[int]]:
    kids: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def _status_kb(pid, key: str, name: str = "status") -> int:
    """A ``kB`` field of /proc/PID/status or smaps_rollup (0 when gone)."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_memory(root: int) -> int:
    """Bytes resident in ``root`` and its descendants, shared pages counted once (PSS)."""
    kids, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        total += _status_kb(pid, "Pss:", "smaps_rollup")
        todo += kids.get(pid, [])
    return total * 1024


def disk_usage(root: Path) -> int:
    """Bytes allocated on disk under ``root``, each file once however many hard links
    name it (checkpoint copies are links); files that vanish meanwhile are skipped."""
    seen = {}
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(seen.values())


class _Sampler(threading.Thread):
    """Samples a process tree's memory every second (``peak``: the largest sum seen)
    and, given ``disk_root``, the bytes under it (``peak_disk``). With ``pattern``, also
    watches ``log`` (from ``offset``) and calls ``on_match`` once."""

    def __init__(
        self, root, log=None, offset=0, pattern=None, on_match=None, disk_root=None
    ):
        super().__init__(daemon=True)
        self.root, self.peak, self.stopped = root, 0, threading.Event()
        self.log, self.offset, self.on_match = log, offset, on_match
        self.pattern = re.compile(pattern) if pattern else None
        self.disk_root, self.peak_disk = disk_root, 0

    def sample_disk(self):
        if self.disk_root is not None:
            self.peak_disk = max(self.peak_disk, disk_usage(self.disk_root))

    def run(self):
        while not self.stopped.is_set():
            self.peak = max(self.peak, tree_memory(self.root))
            self.sample_disk()
            if self.pattern is not None and self._matched():
                self.on_match()
                self.pattern = None
            self.stopped.wait(1.0)

    def _matched(self) -> bool:
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return False
        return self.pattern.search(text) is not None


def _run_command(job: Job, env: dict, interrupt: Optional[str], disk_root) -> dict:
    """Run the job's command once; returns its exit code and measured resources."""
    offset = job.log.stat().st_size if job.log.exists() else 0
    killed = []
    global _command_group
    with open(job.log, "a", encoding="utf-8") as log:
        # a process group of its own, so that all of it can be ended (_stop_command)
        proc = subprocess.Popen(
            job.argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _command_group = proc.pid

        def kill():
            killed.append(time.time())
            os.killpg(proc.pid, signal.SIGKILL)

        sampler = _Sampler(proc.pid, job.log, offset, interrupt, kill, disk_root)
        sampler.start()
        try:  # wait4: the exit status and the kernel's peak memory of the process tree
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            sampler.stopped.set()
            _command_group = None
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.join()
        sampler.sample_disk()  # what it left (a short job may end between samples)
        if killed:  # the rest of its process group (tee, data-loading workers)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return dict(
        returncode=proc.returncode,
        killed=bool(killed),
        peak_rss=usage.ru_maxrss * 1024,
        peak_tree=sampler.peak,
        peak_disk=sampler.peak_disk,
    )


def _reset_peak_rss() -> bool:
    """Restart this process's high-water mark (Linux: /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def release_memory() -> None:
    """Hand the memory a finished Python-call job freed back to the system. glibc keeps
    freed heap pages for reuse: after the rehearsal's 54 fine-tuning runs at width 1024 a
    worker held 10.1 GB it no longer used, and the export it then started (13.4 GB) was
    killed for memory on a 24 GB machine. gc breaks the runs' reference cycles and
    ``malloc_trim`` returns the free pages (measured: 9.5 GB -> 0.5 GB)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


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


def _execute(job: Job, threads: int, disk_root: Optional[Path] = None) -> str:
    """Run one job in a worker; returns its summary line, raises RecipesError."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    if job.argv:
        env = {
            **os.environ,
            **job.env,
            "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
        }
        interrupt = job.interrupt if not job.interrupted.exists() else None
        runs = [_run_command(job, env, interrupt, disk_root)]
        if runs[-1]["killed"]:
            write_text(
                job.interrupted, f"killed at {time.ctime()} (log matched {interrupt!r})\n"
            )
            with open(job.log, "a", encoding="utf-8") as log:
                log.write(
                    f"[main job] interrupted on purpose (SIGKILL once the log matched "
                    f"{interrupt!r}); running the same command again\n"
                )
            runs.append(_run_command(job, env, None, disk_root))
        if runs[-1]["returncode"] != 0:
            raise RecipesError(
                f"exit status {runs[-1]['returncode']}: {last_line(job.log)}"
            )
        used = {
            key: max(r[key] for r in runs)
            for key in ("peak_rss", "peak_tree", "peak_disk")
        }
        used["runs"] = len(runs)
    else:
        measured = _reset_peak_rss()
        sampler = _Sampler(os.getpid(), disk_root=disk_root)
        sampler.start()
        try:
            run_logged("failed", lambda: _resolve(job.call)(*job.args), job.log)
        finally:
            sampler.stopped.set()
            sampler.join()
            sampler.sample_disk()
            release_memory()  # before the worker's next job, which may be a command
        hwm = _status_kb("self", "VmHWM:") * 1024 if measured else 0
        used = dict(
            peak_rss=hwm,
            peak_tree=max(hwm, sampler.peak),
            peak_disk=sampler.peak_disk,
            runs=1,
        )
    write_text(
        job.resources, json.dumps(dict(seconds=round(time.time() - start, 1), **used))
    )
    if job.finish:
        finish = _resolve(job.finish)
        run_logged("finishing failed", lambda: finish(job, *job.finish_args), job.log)
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


def run(
    jobs: List[Job],
    workers: int,
    threads: int,
    out=sys.stderr,
    disk_root: Optional[Path] = None,
) -> None:
    """Run ``jobs`` (in list order where dependencies allow) on ``workers`` processes;
    with ``disk_root``, each job's resources include the peak bytes under it."""
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
    bar = tqdm(
        total=len(pending),
        desc="main job",
        unit="job",
        file=out,
        dynamic_ncols=True,
        disable=not out.isatty(),
    )
    count = f"/{len(pending)}"
    failure, running = None, {}
    context = get_context("spawn")  # workers import fairseq once, and never fork a torch
    pids = context.SimpleQueue()
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads, pids)
    )
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
                running[pool.submit(_execute, job, threads, disk_root)] = (
                    job,
                    time.time(),
                )
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
                    bar.write(
                        f"[{len(finished) - reused + 1}{count}] FAILED {job.name} after "
                        f"{time.time() - start:.0f}s",
                        file=out,
                    )
                    continue
                finished.add(job.name)
                bar.update(1)
                bar.write(
                    f"[{len(finished) - reused}{count}] done {job.name} in {time.time() - start:.0f}s"
                    + (f": {summary}" if summary else ""),
                    file=out,
                )
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
