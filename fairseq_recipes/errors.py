"""The project's error type for bad input, and a one-line report of it.

Errors that a user can fix (a missing file, a mismatched checkpoint, an invalid option)
are :class:`RecipesError`. Raised inside ``fairseq-train`` or ``fairseq-generate`` they
would end in a traceback through fairseq's internals; the hook installed with the plugin
prints them as one ``error: ...`` line instead (the exit status stays Python's 1 for an
uncaught exception). Ctrl-C is one ``interrupted`` line too. Every other exception keeps
Python's normal report.
"""

import sys


class RecipesError(ValueError):
    """Bad input or options: the message is one line naming the file or option."""


def _hook(previous):
    def excepthook(kind, value, traceback):
        if isinstance(value, RecipesError):
            sys.stderr.write(f"error: {value}\n")
            sys.stderr.flush()
            return
        if isinstance(value, KeyboardInterrupt):  # Ctrl-C: one line, not fairseq's stack
            sys.stderr.write("interrupted (run the same command again to resume)\n")
            sys.stderr.flush()
            return
        previous(kind, value, traceback)

    excepthook._fairseq_recipes = True
    return excepthook


def install() -> None:
    """Report RecipesError as one line. Idempotent."""
    if not getattr(sys.excepthook, "_fairseq_recipes", False):
        sys.excepthook = _hook(sys.excepthook)
