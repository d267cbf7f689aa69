"""Language sampling with an exponent: p_i proportional to (n_i / N) ** alpha.

XLM-R (Conneau et al., 2020) samples pre-training languages this way with alpha = 0.3,
up-sampling low-resource languages; alpha = 1 keeps the natural distribution and
alpha = 0 makes it uniform. The same probabilities drive the tokenizer training sample
(``vocab``), the manifest (``binarize``) and the per-epoch resampling of the tasks.
"""

from typing import Sequence

import numpy as np


def _counts(values: Sequence[float], name: str) -> np.ndarray:
    counts = np.asarray(values, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sequence, got {values!r}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"{name}: counts must be finite and >= 0, got {values!r}")
    if counts.sum() <= 0:
        raise ValueError(f"{name}: all counts are zero")
    return counts


def sampling_probabilities(token_counts: Sequence[float], alpha: float) -> np.ndarray:
    """p_i = q_i ** alpha / sum_j q_j ** alpha with q_i = n_i / N.

    A language with no tokens gets probability 0 (also for alpha = 0, where 0 ** 0 = 1
    would otherwise give it a share).
    """
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    counts = _counts(token_counts, "token_counts")
    smoothed = np.where(counts > 0, (counts / counts.sum()) ** alpha, 0.0)
    return smoothed / smoothed.sum()


def resampling_ratios(sizes: Sequence[float], alpha: float) -> np.ndarray:
    """Per-language size ratios for fairseq's ``ResamplingDataset``.

    As fairseq's ``multilingual_denoising`` task: ratio_i = p_i * sum(sizes) / size_i, so
    the resampled datasets keep the total size and follow the probabilities p_i.
    """
    sizes = _counts(sizes, "sizes")
    probs = sampling_probabilities(sizes, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sizes > 0, probs * sizes.sum() / sizes, 0.0)


def allocate(total: int, probs: Sequence[float]) -> np.ndarray:
    """Split ``total`` draws into integer counts that follow ``probs`` and sum to ``total``.

    Largest-remainder rounding, so the counts are deterministic and never off by more than
    one from ``total * p_i``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    exact = probs * total
    counts = np.floor(exact).astype(np.int64)
    short = int(total - counts.sum())
    if short > 0:
        # stable order: ties go to the earlier language
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:short]] += 1
    return counts
