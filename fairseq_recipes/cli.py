"""What every command of the project does with errors, Ctrl-C and a closed pipe.

``@command`` wraps a ``cli_main``: a :class:`RecipesError` (bad input a user can fix)
prints one ``error: ...`` line and exits 2; an ``OSError`` that names a file (a full disk,
a read-only folder) prints one line naming the file and the cause and exits 2; Ctrl-C
prints one line and exits 130 (what the shell reports for SIGINT); a reader that went away
(``recipes-main --dry-run | head``) ends the command quietly. Nothing else changes:
a bug still shows its traceback.
"""

import functools
import os
import sys

from .atomic_files import describe_os_error
from .errors import RecipesError

INTERRUPTED = 130


def fail(message: str, status: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def command(function):
    """Decorate a command's ``cli_main``."""

    @functools.wraps(function)
    def cli_main(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except RecipesError as err:
            fail(str(err))
        except KeyboardInterrupt:
            print(
                "interrupted (run the same command again to resume or redo it)",
                file=sys.stderr,
                flush=True,
            )
            sys.exit(INTERRUPTED)
        except BrokenPipeError:
            # stdout is gone: point it at /dev/null so the exit's flush cannot fail again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except OSError as err:
            if err.filename is None:
                raise
            fail(describe_os_error(err.filename, err))

    return cli_main
