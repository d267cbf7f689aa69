"""Check a binarized corpus before training starts, not when an epoch reaches a bad file.

fairseq opens a shard only when its epoch comes (``DATA/shard1`` at epoch 2) and reads an
mmap dataset's ``.bin`` only where the index points, so a missing shard, a truncated
``.idx`` or ``.bin``, or a manifest that no longer describes the folder would fail hours
into a run (or, for a short ``.bin``, read past its end). :func:`check_corpus` looks at
every shard and split the run will read, at the cost of reading each index (a few MB for
the paper's corpus), and raises one line naming the file.
"""

import os
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..errors import RecipesError
from ..preprocessing.manifest import MANIFEST_NAME, read_manifest


class CorpusError(RecipesError):
    """The data folder does not hold what the manifest and the task expect."""


def split_problem(prefix: Path) -> Optional[str]:
    """Why ``prefix.{idx,bin}`` is not a complete fairseq mmap dataset, or None."""
    from fairseq.data.indexed_dataset import MMapIndexedDataset

    idx, bin_ = Path(f"{prefix}.idx"), Path(f"{prefix}.bin")
    for path in (idx, bin_):
        if not path.is_file():
            return f"{path}: missing"
    try:
        index = MMapIndexedDataset.Index(str(idx))
        sizes, pointers = index.sizes, index._pointers
        itemsize = np.dtype(index.dtype).itemsize
    except Exception as err:  # noqa: BLE001  (struct, numpy and assert errors alike)
        return f"{idx}: not a complete fairseq index ({type(err).__name__}: {err})"
    header = 9 + 8 + 1 + 8  # magic, version, dtype code, count
    expected_idx = header + 4 * len(sizes) + 8 * len(sizes)
    if idx.stat().st_size != expected_idx:
        return (
            f"{idx}: {idx.stat().st_size:,} bytes, but its header promises "
            f"{expected_idx:,} ({len(sizes):,} items): truncated or damaged"
        )
    expected_bin = int(pointers[-1] + sizes[-1] * itemsize) if len(sizes) else 0
    if bin_.stat().st_size != expected_bin:
        return (
            f"{bin_}: {bin_.stat().st_size:,} bytes, but {idx.name} indexes "
            f"{expected_bin:,}: truncated or from another run"
        )
    return None


def check_corpus(
    shards: Sequence[str],
    langs: List[str],
    dictionary_size: int,
    splits=("train",),
    valid_split="valid",
) -> None:
    """Every shard has every language's training split, complete; the first shard's
    validation splits are complete; and the manifest beside the shards (when there is
    one) lists these languages, shards and vocabulary."""
    for k, shard in enumerate(shards):
        if not os.path.isdir(shard):
            raise CorpusError(f"{shard}: shard directory missing (--data lists it)")
        for lang in langs:
            for split in splits:
                problem = split_problem(Path(shard) / lang / split)
                if problem:
                    raise CorpusError(problem)
            valid = Path(shard) / lang / valid_split
            if k == 0 and (
                os.path.exists(f"{valid}.idx") or os.path.exists(f"{valid}.bin")
            ):
                problem = split_problem(valid)
                if problem:
                    raise CorpusError(problem)
    _check_manifest(shards, langs, dictionary_size)


def _check_manifest(
    shards: Sequence[str], langs: List[str], dictionary_size: int
) -> None:
    root = Path(shards[0]).resolve().parent
    path = root / MANIFEST_NAME
    if not path.is_file():
        return  # not a recipes-preprocess folder: nothing more to compare with
    manifest = read_manifest(path)
    listed = list(manifest["languages"])
    unknown = [lang for lang in langs if lang not in listed]
    if unknown:
        raise CorpusError(
            f"{path}: lists languages {','.join(listed)}, but the data has "
            f"{','.join(unknown)} too: the manifest does not describe this folder"
        )
    for shard in manifest["shards"]:
        if not (root / shard).is_dir():
            raise CorpusError(
                f"{path}: lists shard {shard}, but {root / shard} is missing"
            )
    named = {Path(s).resolve().name for s in shards}
    extra = sorted(named - set(manifest["shards"]))
    if extra:
        raise CorpusError(f"{path}: does not list shard(s) {', '.join(extra)} of --data")
    if manifest["vocab_size"] != dictionary_size:
        raise CorpusError(
            f"{path}: records a vocabulary of {manifest['vocab_size']:,}, but "
            f"{Path(shards[0]) / 'dict.txt'} has {dictionary_size:,} entries: dict.txt "
            "was replaced after preprocessing"
        )
