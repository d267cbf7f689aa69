"""The main job's job graph: order, reuse, resume after a failure, one-line errors."""

import io
import json
import re
import sys

import pytest

from fairseq_recipes.errors import RecipesError
from fairseq_recipes.pipeline.runner import Job, _execute, _status_kb, run


def _job(tmp_path, name, after=(), fail=False):
    """A command job that appends its name to ``order.txt`` (and fails if asked)."""
    script = f"open({str(tmp_path / 'order.txt')!r}, 'a').write({name!r} + '\\n')"
    if fail:
        script += "; import sys; print('boom: bad thing'); sys.exit(3)"
    return Job(
        name,
        tmp_path / "logs" / f"{name}.log",
        tmp_path / "done" / name,
        argv=[sys.executable, "-c", script],
        after=list(after),
    )


def _order(tmp_path):
    path = tmp_path / "order.txt"
    return path.read_text().split() if path.exists() else []


def test_dependencies_run_first_and_a_second_run_reuses_everything(tmp_path):
    jobs = [
        _job(tmp_path, "c", after=["a", "b"]),
        _job(tmp_path, "a"),
        _job(tmp_path, "b", after=["a"]),
    ]
    out = io.StringIO()
    run(jobs, workers=2, threads=1, out=out)
    assert _order(tmp_path) == ["a", "b", "c"]
    assert all(job.is_done() for job in jobs)
    assert "done c" in out.getvalue()
    out = io.StringIO()
    run(jobs, workers=2, threads=1, out=out)
    assert _order(tmp_path) == ["a", "b", "c"]  # nothing ran again
    assert out.getvalue().split("\n")[:3] == ["reused: c", "reused: a", "reused: b"]


def test_a_failure_stops_new_jobs_names_the_log_and_a_rerun_resumes(tmp_path):
    jobs = [
        _job(tmp_path, "a"),
        _job(tmp_path, "b", after=["a"], fail=True),
        _job(tmp_path, "c", after=["b"]),
    ]
    with pytest.raises(RecipesError) as err:
        run(jobs, workers=1, threads=1, out=io.StringIO())
    message = str(err.value)
    assert "b failed" in message and "b.log" in message and "boom: bad thing" in message
    assert _order(tmp_path) == ["a", "b"] and not jobs[2].is_done()
    jobs[1] = _job(tmp_path, "b", after=["a"])  # fixed
    run(jobs, workers=1, threads=1, out=io.StringIO())
    assert _order(tmp_path) == ["a", "b", "b", "c"]  # a reused, b and c run


def test_python_call_jobs_run_in_the_worker_with_their_output_in_the_log(tmp_path):
    job = Job(
        "call",
        tmp_path / "call.log",
        tmp_path / "call.done",
        call="builtins:print",
        args=("hello from a worker",),
    )
    run([job], workers=1, threads=1, out=io.StringIO())
    assert job.is_done() and "hello from a worker" in job.log.read_text()


#: what the fragmenting job leaves allocated: one chunk above all the freed ones, so that
#: glibc cannot give the heap back by shrinking it from the top
_kept = []


def _rss_to(path):
    with open(path, "a") as out:
        out.write(f"{_status_kb('self', 'VmRSS:') * 1024}\n")


def _fragment_heap(path, megabytes):
    """Record the worker's resident memory, then allocate ``megabytes`` in 4 KB chunks
    (malloc's heap, as a fine-tuning run's many tensors are) and free all but the last."""
    _rss_to(path)
    chunks = [bytes(4000) for _ in range(megabytes * 256)]
    _kept.append(chunks[-1])
    del chunks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap")
def test_a_worker_gives_back_the_memory_a_python_call_job_freed(tmp_path):
    """The rehearsal's export was killed for memory because the worker still held 10 GB
    the fine-tuning runs before it had freed: the next job starts without it."""
    rss = tmp_path / "rss"
    jobs = [
        Job(
            "fragment",
            tmp_path / "a.log",
            tmp_path / "a.done",
            call="tests.pipeline.test_runner:_fragment_heap",
            args=(str(rss), 400),
        ),
        Job(
            "next",
            tmp_path / "b.log",
            tmp_path / "b.done",
            call="tests.pipeline.test_runner:_rss_to",
            args=(str(rss),),
            after=["fragment"],
        ),
    ]
    run(jobs, workers=1, threads=1, out=io.StringIO())
    before, after = map(int, rss.read_text().split())
    assert after - before < 100e6  # without the release: about 400 MB more


def test_an_unknown_dependency_is_an_error(tmp_path):
    with pytest.raises(RecipesError, match="depends on unknown job"):
        run([_job(tmp_path, "a", after=["zzz"])], workers=1, threads=1, out=io.StringIO())


def test_every_job_writes_its_resources_and_a_finish_hook_runs_before_done(tmp_path):
    big = tmp_path / "big"
    script = (
        f"import numpy; a = numpy.ones(50_000_000); open({str(big)!r}, 'wb').write(a)"
    )
    job = Job(
        "big",
        tmp_path / "logs" / "big.log",
        tmp_path / "done" / "big",
        argv=[sys.executable, "-c", script],
        finish="tests.pipeline.test_runner:_record_finish",
        finish_args=(str(tmp_path / "finished"),),
    )
    _execute(job, threads=1, disk_root=tmp_path)  # what a worker of run() does
    used = json.loads(job.resources.read_text())
    assert used["runs"] == 1 and used["seconds"] > 0
    assert 400e6 < used["peak_rss"] < 1.5e9  # the 400 MB array, measured by the kernel
    # the finish hook saw the resources written and the job not yet done
    assert (tmp_path / "finished").read_text() == "resources then not done"
    assert 400e6 < used["peak_disk"] < 1e9 and job.is_done()
    call = Job(
        "call",
        tmp_path / "call.log",
        tmp_path / "call.done",
        call="numpy:ones",
        args=(60_000_000,),
    )
    _execute(call, threads=1)
    assert json.loads(call.resources.read_text())["peak_rss"] > 480e6


def _record_finish(job, path):
    state = ("resources" if job.resources.exists() else "none") + (
        " then done" if job.is_done() else " then not done"
    )
    with open(path, "w") as f:
        f.write(state)


def test_an_interrupted_job_is_killed_once_and_run_again_by_the_same_command(tmp_path):
    """The command counts in a file: the first run is killed (SIGKILL) at step 3, the
    rerun continues from the count and ends; a later invocation interrupts nothing."""
    counter = tmp_path / "count"
    script = (
        "import os, time, sys\n"
        f"p = {str(counter)!r}\n"
        "n = int(open(p).read()) if os.path.exists(p) else 0\n"
        "print('resumed from', n, flush=True)\n"
        "while n < 6:\n"
        "    n += 1; open(p, 'w').write(str(n)); print('saved', n, flush=True)\n"
        "    time.sleep(0.5)\n"
    )
    job = Job(
        "resumable",
        tmp_path / "r.log",
        tmp_path / "r.done",
        argv=[sys.executable, "-c", script],
        interrupt=r"saved 3\b",
    )
    _execute(job, threads=1)
    log = job.log.read_text()
    assert job.is_done() and job.interrupted.exists() and counter.read_text() == "6"
    first, second = log.split("[main job] interrupted on purpose")
    assert "saved 3" in first and "saved 6" not in first  # killed before it ended
    assert "resumed from 0" in first and re.search(r"resumed from [3-5]\b", second)
    assert json.loads(job.resources.read_text())["runs"] == 2
    job.done.unlink()  # run it again: the marker says it was interrupted already
    _execute(job, threads=1)
    assert job.log.read_text().count("interrupted on purpose") == 1
