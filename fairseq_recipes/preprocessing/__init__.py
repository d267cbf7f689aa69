"""Offline preprocessing (``recipes-preprocess``): raw text read as documents
(``corpus.py``), the SentencePiece model and fairseq dictionary (``vocab.py``), binarized
shards (``binarize.py``) and their manifest (``manifest.py``); real text from UD treebanks
(``ud_text.py``)."""
