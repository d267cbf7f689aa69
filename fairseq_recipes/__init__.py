"""fairseq_recipes: sequential pre-training of multilingual encoder and seq2seq models.

Load with ``fairseq-train --user-dir fairseq_recipes``. fairseq auto-imports only the
``tasks/`` and ``models/`` packages of a user dir (and only on the first import), so every
registering module is imported here explicitly.

``FAIRSEQ_RECIPES_LIGHT=1`` skips all of that (and with it importing torch and fairseq,
about 4 s): the train scripts set it for their helper calls (``recipes.py``,
``preprocessing/manifest.py``), which need no registry.
"""

import os
import warnings

# fairseq imports fairscale (the ``zero`` extra) when it is installed, and fairscale warns
# about a deprecated torch.cuda.amp decorator on import: noise on every command's stderr
warnings.filterwarnings("ignore", category=FutureWarning, module="fairscale")

if os.environ.get("FAIRSEQ_RECIPES_LIGHT") != "1":
    from .compat import import_logging

    _logging = import_logging.snapshot()  # importing fairseq's models may change it

    from . import compat, errors

    errors.install()  # first: a bad setting met by compat.install is one line too
    compat.install()

    from . import criterions, models, optim, scoring, tasks  # noqa: F401  (register)

    import_logging.restore(_logging)
