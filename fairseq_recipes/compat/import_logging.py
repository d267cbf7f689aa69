"""Undo the logging setup that importing fairseq's models does to the root logger.

fairseq 0.12's ``models/wav2vec/wav2vec2_classification.py`` calls
``logging.basicConfig(level=logging.DEBUG)`` when it is imported, and importing the
plugin imports every fairseq model. In a process that has not configured logging yet
(``recipes-main``, ``recipes-finetune``, a test) the root logger then prints every
library's debug records (``DEBUG:matplotlib:...``). fairseq's own commands configure
logging before that import, so there it changes nothing. The plugin takes a snapshot of
the root logger before it imports fairseq and puts it back afterwards when the import
changed it.
"""

import logging


def snapshot() -> tuple:
    root = logging.getLogger()
    return root.level, list(root.handlers)


def restore(before: tuple) -> None:
    """Give the root logger back the level and handlers of ``before`` (an import-time
    ``basicConfig`` is the only thing that changes both)."""
    level, handlers = before
    root = logging.getLogger()
    if root.level == level and root.handlers == handlers:
        return
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
