"""The embedded toy world: a synthetic multilingual corpus (``corpus.py``, ``lexicon.py``)
and evaluation sets in the released formats (``eval_sets.py``, ``eval_formats.py``), for
runs on any laptop. Nothing outside this package and the main job's toy configurations
imports it."""
