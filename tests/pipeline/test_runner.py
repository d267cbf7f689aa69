"""The main job's job graph: order, reuse, resume after a failure, one-line errors."""

import io
import sys

import pytest

from fairseq_recipes.errors import RecipesError
from fairseq_recipes.pipeline.runner import Job, run


def _job(tmp_path, name, after=(), fail=False):
    """A command job that appends its name to ``order.txt`` (and fails if asked)."""
    script = f"open({str(tmp_path / 'order.txt')!r}, 'a').write({name!r} + '\\n')"
    if fail:
        script += "; import sys; print('boom: bad thing'); sys.exit(3)"
    return Job(name, tmp_path / "logs" / f"{name}.log", tmp_path / "done" / name,
               argv=[sys.executable, "-c", script], after=list(after))  # fmt: skip


def _order(tmp_path):
    path = tmp_path / "order.txt"
    return path.read_text().split() if path.exists() else []


def test_dependencies_run_first_and_a_second_run_reuses_everything(tmp_path):
    jobs = [_job(tmp_path, "c", after=["a", "b"]), _job(tmp_path, "a"),
            _job(tmp_path, "b", after=["a"])]  # fmt: skip
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
    jobs = [_job(tmp_path, "a"), _job(tmp_path, "b", after=["a"], fail=True),
            _job(tmp_path, "c", after=["b"])]  # fmt: skip
    with pytest.raises(RecipesError) as err:
        run(jobs, workers=1, threads=1, out=io.StringIO())
    message = str(err.value)
    assert "b failed" in message and "b.log" in message and "boom: bad thing" in message
    assert _order(tmp_path) == ["a", "b"] and not jobs[2].is_done()
    jobs[1] = _job(tmp_path, "b", after=["a"])  # fixed
    run(jobs, workers=1, threads=1, out=io.StringIO())
    assert _order(tmp_path) == ["a", "b", "b", "c"]  # a reused, b and c run


def test_python_call_jobs_run_in_the_worker_with_their_output_in_the_log(tmp_path):
    job = Job("call", tmp_path / "call.log", tmp_path / "call.done",
              call="builtins:print", args=("hello from a worker",))  # fmt: skip
    run([job], workers=1, threads=1, out=io.StringIO())
    assert job.is_done() and "hello from a worker" in job.log.read_text()


def test_an_unknown_dependency_is_an_error(tmp_path):
    with pytest.raises(RecipesError, match="depends on unknown job"):
        run([_job(tmp_path, "a", after=["zzz"])], workers=1, threads=1, out=io.StringIO())
