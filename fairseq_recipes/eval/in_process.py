"""Run ``fairseq-train`` and ``fairseq-generate`` inside the current process.

A fine-tuning evaluation trains and decodes many small runs; as subprocesses each one
would pay for importing torch and fairseq again (about 5 s on 2 cores, more than a toy
run's training). Here fairseq's own entry points (``fairseq_cli.train.main``,
``fairseq_cli.generate.main``) run with the same arguments the commands take, their
output (prints and fairseq's log records) going to a file, and a failure (an argparse
error's ``SystemExit`` or any exception) becomes a one-line :class:`RecipesError` with
the last line of that file.

Batches are loaded in the calling process (``--num-workers 0`` unless ARGV says otherwise):
a DataLoader worker per epoch iterator, forked from a process that holds a model, costs
more than these small datasets take to load.

fairseq keeps one piece of state between runs of a process: the best validation score so
far, as attributes of ``checkpoint_utils.save_checkpoint`` and of
``fairseq_cli.train.should_stop_early``. A second run would compare itself with the first
and might never write ``checkpoint_best.pt``; :func:`train` clears them first.
"""

import contextlib
import logging
import sys
import traceback
from pathlib import Path

from ..errors import RecipesError

_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


@contextlib.contextmanager
def output_to(path: Path, mode: str = "a"):
    """Send stdout, stderr and every root log handler's stream to ``path``."""
    root = logging.getLogger()
    if not root.handlers:  # fairseq_cli configures logging at import; ensure a handler
        logging.basicConfig(
            format=_FORMAT,
            datefmt="%Y-%m-%d %H:%M:%S",
            level=logging.INFO,
            stream=sys.stdout,
        )
    handlers = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    formatters = [h.formatter for h in handlers]
    with open(path, mode, encoding="utf-8") as out:
        previous = [h.setStream(out) for h in handlers]
        for handler in handlers:  # fairseq's format, whoever configured logging first
            handler.setFormatter(logging.Formatter(_FORMAT, "%Y-%m-%d %H:%M:%S"))
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                yield out
        finally:
            for handler, stream, formatter in zip(handlers, previous, formatters):
                handler.setStream(stream)
                handler.setFormatter(formatter)


def last_line(path: Path) -> str:
    """The last non-empty line of a log, for a one-line error."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else "(no output)"


def run_logged(what: str, body, log: Path, mode: str = "a") -> None:
    """Call ``body()`` with its output in ``log``; a non-zero exit or an exception becomes
    ``RecipesError("{what}: <the log's last line>")``, read once the log is closed."""
    try:
        with output_to(log, mode):
            try:
                body()
            except SystemExit as err:
                if err.code not in (None, 0):
                    raise
            except RecipesError as err:
                print(f"error: {err}")
                raise
            except Exception:
                traceback.print_exc()
                raise
    except (SystemExit, Exception):
        raise RecipesError(f"{what}: {last_line(log)}") from None


def _in_process(argv) -> list:
    return ["--num-workers", "0"] + [str(a) for a in argv]  # a later value wins


def train(argv, log: Path) -> None:
    """``fairseq-train ARGV``, logging to ``log`` (appended)."""
    from fairseq import checkpoint_utils, distributed_utils, options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import train as fairseq_train

    from ..compat import save_dir_lock

    for function in (checkpoint_utils.save_checkpoint, fairseq_train.should_stop_early):
        for attribute in ("best", "num_runs"):
            if hasattr(function, attribute):
                delattr(function, attribute)

    def body():
        parser = options.get_training_parser()
        args = options.parse_args_and_arch(parser, input_args=_in_process(argv))
        cfg = convert_namespace_to_omegaconf(args)
        try:
            distributed_utils.call_main(cfg, fairseq_train.main)
        finally:
            # the run's save-directory lock (compat/save_dir_lock.py) ends with the run,
            # not with this process, which goes on to other runs
            save_dir_lock.release()

    run_logged(f"fairseq-train failed ({log})", body, log)


def generate(argv, output: Path, log: Path) -> str:
    """``fairseq-generate ARGV``: what it prints goes to ``output`` (returned as text),
    its log records to ``log``."""
    from fairseq import options
    from fairseq_cli import generate as fairseq_generate

    def body():
        parser = options.get_generation_parser()
        args = options.parse_args_and_arch(parser, input_args=_in_process(argv))
        with open(output, "w", encoding="utf-8") as out:
            with contextlib.redirect_stdout(out):
                fairseq_generate.main(args)

    run_logged(f"fairseq-generate failed ({log})", body, log, mode="w")
    return Path(output).read_text(encoding="utf-8")
