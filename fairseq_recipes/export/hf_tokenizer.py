"""The project's SentencePiece model and fairseq dictionary as one transformers tokenizer.

The fairseq side turns text into ids in two steps (``data/vocab.SpmTokenizer``): spm pieces,
then the dictionary's ids of those pieces. The exported tokenizer does both at once. It is
built by transformers' own SentencePiece converter (``SpmConverter``: spm's normalization
table, its whitespace handling, the Unigram model with spm's piece scores), with the
vocabulary laid out in the dictionary's order, so that an id names the same symbol on
both sides, whatever the spm model's own id layout (ours: spm id = fairseq id; XLM-R's:
an offset).

Symbols of the dictionary that are no spm piece (fairseq's four specials where spm has
other ids, ``<mask>`` or ``[DOC]`` when the spm model lacks them, the word sentinels,
fairseq's ``madeupword`` padding) get a score no text can reach; the specials, ``<mask>``,
``[DOC]`` and the sentinels are also added tokens, matched as whole symbols in text (as
the mTOP task reads ``<w3>`` in its forms). The post-processor adds what the tasks add:
``<s> A </s>`` and, for pairs, ``<s> A </s> </s> B </s>``.
"""

from types import SimpleNamespace

from ..preprocessing.vocab import DOC_SEP, MASK, WORD_SENTINELS

#: spm piece types (sentencepiece_model.proto) that text can encode to
_NORMAL, _USER_DEFINED = 1, 4
#: Unigram score of a dictionary symbol that is no spm piece: never chosen for text
_UNREACHABLE_SCORE = -1e9


def build_tokenizer(spm_path, dictionary, model_max_length: int):
    """A ``PreTrainedTokenizerFast`` with the fairseq dictionary's ids."""
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import SpmConverter

    class DictionaryOrderConverter(SpmConverter):
        def vocab(self, proto):
            scores = {
                p.piece: p.score
                for p in proto.pieces
                if p.type in (_NORMAL, _USER_DEFINED)
            }
            return [(s, scores.get(s, _UNREACHABLE_SCORE)) for s in dictionary.symbols]

        def unk_id(self, proto):
            return dictionary.unk()

        def post_processor(self):
            bos, eos = dictionary.bos_word, dictionary.eos_word
            return processors.TemplateProcessing(
                single=f"{bos} $A {eos}",
                pair=f"{bos} $A {eos} {eos} $B {eos}",
                special_tokens=[(bos, dictionary.bos()), (eos, dictionary.eos())],
            )

    # legacy=False: the "first" Metaspace scheme, as spm (no word boundary is invented
    # after an added token that is glued to the next word)
    shim = SimpleNamespace(vocab_file=str(spm_path), add_prefix_space=True, legacy=False)
    backend = DictionaryOrderConverter(shim).converted()
    specials = [
        dictionary.bos_word,
        dictionary.pad_word,
        dictionary.eos_word,
        dictionary.unk_word,
        MASK,
    ]
    backend.add_special_tokens(
        [AddedToken(s, normalized=False, special=True) for s in specials]
    )
    backend.add_tokens(
        [AddedToken(s, normalized=False) for s in (DOC_SEP, *WORD_SENTINELS)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=dictionary.bos_word,
        eos_token=dictionary.eos_word,
        unk_token=dictionary.unk_word,
        pad_token=dictionary.pad_word,
        cls_token=dictionary.bos_word,
        sep_token=dictionary.eos_word,
        mask_token=MASK,
        model_max_length=model_max_length,
        padding_side="right",
    )
