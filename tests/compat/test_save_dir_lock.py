"""One training run per save directory: a second one stops with one line."""

import inspect
import subprocess
import sys
import textwrap

import pytest
from fairseq import checkpoint_utils

import fairseq_recipes  # noqa: F401  (installs the fix)
from fairseq_recipes.compat import save_dir_lock
from fairseq_recipes.errors import RecipesError

HOLDER = textwrap.dedent("""
    import sys, time
    import fairseq_recipes  # noqa: F401
    from fairseq import checkpoint_utils
    checkpoint_utils.verify_checkpoint_directory(sys.argv[1])
    print("holding", flush=True)
    time.sleep(600)
    """)


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "holding"
    yield proc
    proc.kill()
    proc.wait()


def test_stock_fairseq_lets_two_runs_share_a_save_dir(tmp_path, holder):
    """What the fix exists for: fairseq's own check passes while another run holds it."""
    inspect.unwrap(checkpoint_utils.verify_checkpoint_directory)(str(tmp_path))


def test_a_second_run_is_refused_naming_the_holder(tmp_path, holder):
    with pytest.raises(RecipesError) as err:
        checkpoint_utils.verify_checkpoint_directory(str(tmp_path))
    message = str(err.value)
    assert (
        "\n" not in message
        and f"pid {holder.pid}" in message
        and str(tmp_path) in message
    )


def test_the_lock_ends_with_its_holder_however_it_dies(tmp_path, holder):
    holder.kill()  # SIGKILL: no cleanup runs
    holder.wait()
    checkpoint_utils.verify_checkpoint_directory(str(tmp_path))
    save_dir_lock.release(tmp_path)


def test_a_process_takes_it_again_after_releasing_it(tmp_path):
    for _ in range(2):
        checkpoint_utils.verify_checkpoint_directory(str(tmp_path))
        save_dir_lock.release()
    assert (tmp_path / save_dir_lock.LOCK_NAME).read_text().strip().isdigit()
