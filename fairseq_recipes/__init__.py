"""fairseq_recipes: sequential pre-training of multilingual encoder and seq2seq models.

Load with ``fairseq-train --user-dir fairseq_recipes``. fairseq auto-imports only the
``tasks/`` and ``models/`` packages of a user dir (and only on the first import), so every
registering module is imported here explicitly.
"""

from . import compat, errors

compat.install()
errors.install()

from . import criterions, models, optim, scoring, tasks  # noqa: E402,F401  (register)
