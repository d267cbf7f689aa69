"""Words to model inputs for fine-tuning: subwords, first-subword label positions, and
pieces for sentences longer than the model's positions.

Each word is encoded on its own with the pre-training SentencePiece model (as XTREME
does), so a word's subwords never straddle a word boundary and its label goes on its first
subword; the other subwords carry no label (``IGNORE``). A word that SentencePiece turns
into nothing becomes ``<unk>``, so every word keeps a position.

A sentence longer than ``max_subwords`` is cut, at word boundaries, into consecutive
pieces that each fit; every piece is its own model input, and :func:`rejoin` puts the
per-word predictions of the pieces back in order: one prediction per word, nothing
truncated. A single word longer than a whole piece keeps its first ``max_subwords``
subwords (its label sits on the first one).
"""

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

#: label id of positions that carry no label (the criterions ignore it)
IGNORE = -100


@dataclass(frozen=True)
class Piece:
    """One model input made from words ``[start, end)`` of sentence ``sentence``."""

    sentence: int
    start: int
    end: int
    tokens: np.ndarray  # <s> subwords </s>
    first_subword: np.ndarray  # position in ``tokens`` of each word's first subword


def word_subwords(encoder, words: Sequence[str], unk: int) -> List[np.ndarray]:
    """The fairseq ids of each word, encoded alone (never empty)."""
    flat, lengths = encoder.encode_batch(list(words))
    out = np.split(flat, np.cumsum(lengths)[:-1]) if len(words) else []
    return [ids if len(ids) else np.array([unk], dtype=flat.dtype) for ids in out]


def split_points(lengths: Sequence[int], max_subwords: int) -> List[Tuple[int, int]]:
    """Word ranges ``[start, end)`` of consecutive pieces of at most ``max_subwords``
    subwords (a longer single word is a piece of its own)."""
    if max_subwords < 1:
        raise ValueError(f"max_subwords must be positive, got {max_subwords}")
    pieces, start, used = [], 0, 0
    for i, n in enumerate(lengths):
        n = min(n, max_subwords)
        if used + n > max_subwords and i > start:
            pieces.append((start, i))
            start, used = i, 0
        used += n
    if start < len(lengths) or not pieces:
        pieces.append((start, len(lengths)))
    return pieces


def sentence_pieces(
    sentence: int, subwords: List[np.ndarray], max_subwords: int, bos: int, eos: int
) -> List[Piece]:
    """The pieces of one sentence, each ``<s> ... </s>``."""
    pieces = []
    for start, end in split_points([len(s) for s in subwords], max_subwords):
        words = [s[:max_subwords] for s in subwords[start:end]]
        lengths = np.array([len(w) for w in words], dtype=np.int64)
        first = 1 + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        body = np.concatenate(words) if words else np.zeros(0, dtype=np.int64)
        tokens = np.concatenate([[bos], body, [eos]]).astype(np.int64)
        pieces.append(Piece(sentence, start, end, tokens, first[: end - start]))
    return pieces


def pair_pieces(
    pair: int, first: np.ndarray, second: np.ndarray, max_tokens: int, bos: int, eos: int
) -> List[Piece]:
    """``<s> first </s> </s> second </s>`` (RoBERTa's pair format); a ``first`` too long
    for one input is cut into consecutive pieces, each with the whole ``second``
    (``start``/``end`` are then subword offsets in ``first``)."""
    room = max_tokens - 4 - len(second)
    if room < 1:
        raise ValueError(
            f"pair {pair}: the second sentence alone has {len(second)} subwords, more "
            f"than an input of {max_tokens} tokens can hold with the first"
        )
    pieces = []
    for start in range(0, max(len(first), 1), room):
        chunk = first[start : start + room]
        tokens = np.concatenate([[bos], chunk, [eos, eos], second, [eos]]).astype(
            np.int64
        )
        pieces.append(
            Piece(pair, start, start + len(chunk), tokens, np.zeros(0, np.int64))
        )
    return pieces


def token_labels(piece: Piece, word_labels: Sequence[int]) -> np.ndarray:
    """Per-token targets of a piece: the word's label on its first subword, else IGNORE."""
    labels = np.full(len(piece.tokens), IGNORE, dtype=np.int64)
    labels[piece.first_subword] = np.asarray(word_labels[piece.start : piece.end])
    return labels


def rejoin(pieces: Sequence[Piece], predictions: Sequence[Sequence]) -> Dict[int, list]:
    """{sentence: per-word predictions} from the pieces' per-word predictions."""
    words: Dict[int, list] = {}
    for piece, predicted in sorted(
        zip(pieces, predictions), key=lambda pair: (pair[0].sentence, pair[0].start)
    ):
        if len(predicted) != piece.end - piece.start:
            raise ValueError(
                f"sentence {piece.sentence}: {len(predicted)} predictions for words "
                f"{piece.start}-{piece.end}"
            )
        out = words.setdefault(piece.sentence, [])
        if len(out) != piece.start:
            raise ValueError(f"sentence {piece.sentence}: pieces do not cover its words")
        out.extend(predicted)
    return words
