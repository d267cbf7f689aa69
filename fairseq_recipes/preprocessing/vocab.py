"""The shared SentencePiece model and the fairseq dictionary that goes with it.

Our own model is trained with ``bos=0, pad=1, eos=2, unk=3`` followed by the
user-defined symbols ``[DOC]`` and ``<mask>``: fairseq's ``Dictionary`` puts
``<s>, <pad>, </s>, <unk>`` at 0..3, so spm ids and fairseq ids are equal. An existing
model (e.g. XLM-R's: ``unk=0, bos=1, eos=2``, no pad) gets its dict.txt written the
XLM-R way: its pieces in spm id order without its control and unknown pieces, so that
fairseq id = spm id + a constant offset. Either way ``SpmTokenizer`` maps spm ids to
fairseq ids through one lookup array.
"""

import io
import itertools
import multiprocessing
import re
import signal
from collections import deque
from itertools import chain, islice
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Sequence, Tuple

import numpy as np
import sentencepiece as spm
from fairseq.data import Dictionary
from tqdm import tqdm

from .. import paper
from ..data.sampling import allocate, sampling_probabilities
from .corpus import PipelineError, iter_documents, split_sentences

#: document separator, put between packed documents
DOC_SEP = "[DOC]"
#: the mask symbol of MLM and span denoising
MASK = "<mask>"
#: word sentinels (CLASP-style pointing, mTOP): an input marks its i-th word with ``<wi>``
#: and the target names input words by their sentinels. They close the dictionary, after
#: every spm piece, so no text ever encodes to one and spm ids stay fairseq ids.
WORD_SENTINELS = tuple(f"<w{i}>" for i in range(256))
#: what the dictionary holds beyond the spm pieces, in this order
EXTRA_SYMBOLS = (MASK, DOC_SEP) + WORD_SENTINELS
#: the characters of mTOP's logical forms (``[IN:GET_WEATHER [SL:DATE_TIME ... ] ]``): spm
#: keeps them even when the corpus lacks one, so that no label ever encodes to <unk>
LOGICAL_FORM_CHARS = "[]:_ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: unused symbols that pad a dictionary to a given size (``--dictionary-size``), named as
#: fairseq's own ``Dictionary.pad_to_multiple_`` names its padding
UNUSED_SYMBOL = "madeupword{:04d}"
UNUSED_SYMBOL_RE = re.compile(r"madeupword\d{4,}")
#: fairseq's Dictionary order of its four special symbols
SPM_SPECIAL_IDS = {"bos_id": 0, "pad_id": 1, "eos_id": 2, "unk_id": 3}
# spm's error messages start with the C++ source location: useless to a user
_SPM_LOCATION = re.compile(r"^[A-Z_]+: \S+\(\d+\) \[[^\]]*\] ")


def _one_line(error: Exception) -> str:
    return _SPM_LOCATION.sub("", " ".join(str(error).split()))


def load_spm(path) -> spm.SentencePieceProcessor:
    """Load a SentencePiece model; a missing or corrupt file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such SentencePiece model file")
    processor = spm.SentencePieceProcessor()
    try:
        processor.load(str(path))
    except (OSError, RuntimeError) as e:
        raise PipelineError(
            f"{path}: not a valid SentencePiece model ({_one_line(e)})"
        ) from None
    return processor


def train_spm(
    sentences: Iterable[str],
    model_prefix,
    vocab_size: int,
    model_type: str = "unigram",
    character_coverage: float = paper.CHARACTER_COVERAGE,
    num_threads: int = 1,
) -> Path:
    """Train our shared model (spm ids = fairseq ids) into ``{model_prefix}.model`` and
    ``.vocab``; returns the model's path.

    The vocabulary size is a soft limit (``hard_vocab_limit=False``): a small corpus
    gets a smaller vocabulary instead of an error, the manifest records the real size.
    """
    model = io.BytesIO()  # unlike model_prefix=, keeps the path out of the model bytes
    source_errors = []

    def feed():  # spm wraps an exception of the iterator in RuntimeError: keep it
        try:
            yield from sentences
        except BaseException as e:
            source_errors.append(e)
            raise

    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=feed(),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            user_defined_symbols=[DOC_SEP, MASK],
            required_chars=LOGICAL_FORM_CHARS,
            hard_vocab_limit=False,
            num_threads=num_threads,
            # sample units are sentences, but some scripts have no sentence punctuation
            max_sentence_length=16384,
            minloglevel=2,
            **SPM_SPECIAL_IDS,
        )
    except RuntimeError as e:
        if source_errors:
            raise source_errors[0] from None
        raise PipelineError(
            f"sentencepiece training failed (--vocab-size {vocab_size}, "
            f"--character-coverage {character_coverage}): {_one_line(e)}"
        ) from None
    path = Path(f"{model_prefix}.model")
    path.write_bytes(model.getvalue())
    write_spm_vocab(load_spm(path), path.with_suffix(".vocab"))
    return path


def write_spm_vocab(processor: spm.SentencePieceProcessor, vocab_path) -> None:
    """``piece<TAB>score`` per line, as spm_train writes next to a model."""
    with open(vocab_path, "w", encoding="utf-8") as f:
        for i in range(processor.get_piece_size()):
            f.write(f"{processor.id_to_piece(i)}\t{processor.get_score(i):g}\n")


def write_dictionary(spm_path, dict_path, size: int = 0) -> int:
    """Write fairseq's dict.txt for an spm model; returns the number of lines.

    Pieces in spm id order, without control and unknown pieces (fairseq adds its own
    four specials); then ``<mask>`` and ``[DOC]`` if the model lacks them (``<mask>``
    first: it lands where XLM-R's task appends it), then the word sentinels. The count
    column decreases with the id so that even a count-sorted copy keeps the order.

    ``size`` (0: none) pads the dictionary with unused symbols (``madeupword0000``, ...)
    after everything else until fairseq's ``Dictionary`` has ``size`` entries (its four
    specials included): every real id stays what it was, and no text ever encodes to a
    padding symbol. A rehearsal device: a model gets the embedding and output rows of a
    large vocabulary (XLM-R's 250,002) without a SentencePiece model of that size.
    """
    processor = load_spm(spm_path)
    pieces = [
        processor.id_to_piece(i)
        for i in range(processor.get_piece_size())
        if not (processor.is_control(i) or processor.is_unknown(i))
    ]
    pieces += [sym for sym in EXTRA_SYMBOLS if sym not in set(pieces)]
    reserved = set(Dictionary().symbols) & set(pieces)
    if reserved:
        raise PipelineError(
            f"{spm_path}: normal pieces clash with fairseq's special symbols: "
            f"{' '.join(sorted(reserved))}"
        )
    if size:
        natural = len(Dictionary().symbols) + len(pieces)
        if size < natural:
            raise PipelineError(
                f"--dictionary-size {size}: {spm_path} already needs {natural:,} "
                "entries (specials, pieces, <mask>, [DOC] and the word sentinels)"
            )
        taken = set(pieces)
        names = (UNUSED_SYMBOL.format(i) for i in itertools.count())
        pieces += list(islice((n for n in names if n not in taken), size - natural))
    with open(dict_path, "w", encoding="utf-8") as f:
        for rank, piece in enumerate(pieces):
            f.write(f"{piece} {len(pieces) - rank}\n")
    return len(pieces)


def load_dictionary(path) -> Dictionary:
    """fairseq ``Dictionary`` from dict.txt, with ``<mask>``, ``[DOC]`` and the word
    sentinels present (appended in that order when the file lacks them)."""
    try:
        dictionary = Dictionary.load(str(path))
    except FileNotFoundError:
        raise PipelineError(f"{path}: no such dictionary file") from None
    except Exception as e:  # fairseq raises bare Exception/ValueError/RuntimeError
        raise PipelineError(
            f"{path}: not a fairseq dictionary ({_one_line(e)})"
        ) from None
    for sym in EXTRA_SYMBOLS:
        if sym not in dictionary:
            dictionary.add_symbol(sym)
    return dictionary


def fairseq_id_map(processor: spm.SentencePieceProcessor, dictionary) -> np.ndarray:
    """Array ``a`` with ``a[spm_id] == fairseq_id`` for every piece of the model."""
    specials = {
        processor.bos_id(): dictionary.bos(),
        processor.eos_id(): dictionary.eos(),
        processor.pad_id(): dictionary.pad(),
        processor.unk_id(): dictionary.unk(),
    }
    mapping = np.empty(processor.get_piece_size(), dtype=np.int32)
    for i in range(len(mapping)):
        if i in specials:
            mapping[i] = specials[i]
        else:
            mapping[i] = dictionary.index(processor.id_to_piece(i))
    return mapping


class SpmTokenizer:
    """Text -> fairseq ids through spm and one vectorized lookup; picklable for workers."""

    def __init__(self, spm_path, dictionary):
        if not isinstance(dictionary, Dictionary):
            dictionary = load_dictionary(dictionary)
        self.spm_path = str(spm_path)
        self.processor = load_spm(spm_path)
        self.to_fairseq = fairseq_id_map(self.processor, dictionary)
        # fairseq ids with no spm piece (e.g. an appended <mask>) decode to nothing;
        # an id several pieces map to (unk) decodes as the first of them
        self.to_spm = np.full(len(dictionary), -1, dtype=np.int64)
        fairseq_ids, first_spm_id = np.unique(self.to_fairseq, return_index=True)
        self.to_spm[fairseq_ids] = first_spm_id

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["processor"]  # a SWIG object; reloaded from the file
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.processor = load_spm(self.spm_path)

    def encode(self, text: str) -> np.ndarray:
        return self.to_fairseq[np.asarray(self.processor.encode(text), dtype=np.int64)]

    def encode_batch(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """All texts' ids concatenated, and each text's length (cheap to pickle)."""
        ids = self.processor.encode(list(texts), out_type=int)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=lengths.sum())
        return self.to_fairseq[flat], lengths

    def decode(self, ids) -> str:
        spm_ids = self.to_spm[np.asarray(ids, dtype=np.int64)]
        return self.processor.decode(spm_ids[spm_ids >= 0].tolist())


# documents per worker task: large enough to amortize pickling, small enough to stream
CHUNK_DOCS = 256
_worker_tokenizer = None  # set in each worker process


def _init_worker(tokenizer: SpmTokenizer) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer
    # the parent handles Ctrl-C and SIGTERM (it cleans up and stops the pool)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _encode_chunk(texts):
    return _worker_tokenizer.encode_batch(texts)


def _chunks(docs: Iterator[str]) -> Iterator[List[str]]:
    while chunk := list(islice(docs, CHUNK_DOCS)):
        yield chunk


class ParallelTokenizer:
    """``SpmTokenizer`` in worker processes: chunks of documents, in order.

    A bounded look-ahead of a few chunks per worker (``Pool.imap`` would read the whole
    input into its queue); with one worker, everything runs in this process.
    """

    def __init__(self, tokenizer: SpmTokenizer, workers: int):
        self.tokenizer = tokenizer
        self.window = 4 * workers
        self.pool = None
        if workers > 1:
            self.pool = multiprocessing.Pool(workers, _init_worker, (tokenizer,))

    def __call__(self, docs: Iterator[str]):
        """(flat ids, lengths) per chunk of ``docs``."""
        if self.pool is None:
            yield from map(self.tokenizer.encode_batch, _chunks(docs))
            return
        pending = deque()
        for chunk in _chunks(docs):
            pending.append(self.pool.apply_async(_encode_chunk, (chunk,)))
            if len(pending) >= self.window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()


def spm_sample_plan(
    sentence_counts: Mapping[str, int], sample_size: int, alpha: float, seed: int
) -> Dict[str, np.ndarray]:
    """How many copies of each sentence go into the tokenizer sample, per language.

    ``sample_size`` sentences in all (at most the corpus size), split across languages
    with p_i ~ (n_i / N) ** alpha; a language whose share exceeds its sentences repeats
    them (that is the up-sampling), every language gets at least one.
    """
    langs = sorted(sentence_counts)
    counts = np.array([sentence_counts[lang] for lang in langs])
    total = min(sample_size, int(counts.sum()))
    shares = np.maximum(allocate(total, sampling_probabilities(counts, alpha)), 1)
    rng = np.random.default_rng(seed)
    plan = {}
    for lang, n, k in zip(langs, counts, shares):
        copies = np.full(n, k // n, dtype=np.int32)
        copies[rng.choice(n, size=k % n, replace=False)] += 1
        plan[lang] = copies
    return plan


def iter_spm_sample(
    inputs: Mapping[str, Path],
    plan: Mapping[str, np.ndarray],
    train_docs: Mapping[str, int],
) -> Iterator[str]:
    """The sentences the plan picks, reading the first ``train_docs[lang]`` documents."""
    with tqdm(total=sum(train_docs.values()), desc="spm sample", unit="doc") as bar:
        for lang in sorted(plan):
            copies, sentence_index = plan[lang], 0
            bar.set_postfix(lang=lang)
            docs = iter_documents(inputs[lang])
            for _, doc in zip(range(train_docs[lang]), docs):
                for sentence in split_sentences(doc):
                    if sentence_index < len(copies):
                        yield from [sentence] * int(copies[sentence_index])
                    sentence_index += 1
                bar.update()
            if sentence_index != len(copies):
                raise PipelineError(f"{inputs[lang]}: the file changed while reading it")
