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
import subprocess
import sys
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


def _init_worker(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _execute(job: Job, threads: int) -> str:
    """Run one job in a worker; returns its summary line, raises RecipesError."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    if job.argv:
        env = {**os.environ, **job.env, "OMP_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads)}  # fmt: skip
        with open(job.log, "a", encoding="utf-8") as log:
            proc = subprocess.run(job.argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise RecipesError(f"exit status {proc.returncode}: {last_line(job.log)}")
    else:
        run_logged("failed", lambda: _resolve(job.call)(*job.args), job.log)
    job.done.parent.mkdir(parents=True, exist_ok=True)
    job.done.touch()
    return _resolve(job.summary)(job) if job.summary else ""


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
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(threads,)) as pool:  # fmt: skip
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
    bar.close()
    if failure:
        raise RecipesError(failure)
    if pending:
        raise RecipesError(
            f"jobs never became ready: {', '.join(j.name for j in pending)}"
        )
