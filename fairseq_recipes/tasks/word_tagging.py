"""``--task recipes_word_tagging``: one label per word, predicted on its first subword
(the others are ignored) by an MLP head (paper.TAGGING_HEAD): WikiANN NER (IOB2) and
UDPOS.

``--data-format``: ``panx`` (``lang:token<TAB>TAG`` files), ``conllu`` (Universal
Dependencies, UPOS, XTREME's fused forms) or ``two-column`` (XTREME's
``word<TAB>UPOS``).
"""

from dataclasses import dataclass, field

from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from .. import paper
from ..data.finetune.datasets import LabeledPiecesDataset
from ..data.finetune.encoding import sentence_pieces, token_labels, word_subwords
from ..eval.readers import panx, udpos
from .finetune import FinetuneConfig, FinetuneTask

HEAD = "tags"
READERS = {
    "panx": panx.read_panx,
    "conllu": udpos.read_conllu,
    "two-column": udpos.read_two_column,
}


@dataclass
class WordTaggingConfig(FinetuneConfig):
    data_format: ChoiceEnum(list(READERS)) = field(
        default="panx", metadata={"help": "format of the train/valid/test files"}
    )


def tagged_pieces(task, examples, labels_of_example, label_index):
    """Pieces of word-labelled examples and their per-token targets."""
    d = task.dictionary
    pieces, targets = [], []
    for i, ex in enumerate(examples):
        subwords = word_subwords(task.tokenizer, ex.words, d.unk())
        ids = [label_index[label] for label in labels_of_example(ex)]
        for piece in sentence_pieces(i, subwords, task.max_subwords, d.bos(), d.eos()):
            pieces.append(piece)
            targets.append(token_labels(piece, ids))
    return pieces, targets


@register_task("recipes_word_tagging", dataclass=WordTaggingConfig)
class WordTaggingTask(FinetuneTask):
    @classmethod
    def read(cls, cfg, path, lang=None):
        return READERS[cfg.data_format](path)

    def define_labels(self, examples):
        self.labels = sorted({tag for ex in examples for tag in ex.tags})

    def examples_dataset(self, examples):
        index = {label: i for i, label in enumerate(self.labels)}
        pieces, targets = tagged_pieces(self, examples, lambda ex: ex.tags, index)
        dataset = LabeledPiecesDataset(
            pieces, self.dictionary.pad(), token_targets=targets
        )
        return dataset, pieces

    def register_heads(self, model):
        model.register_head(HEAD, paper.TAGGING_HEAD, len(self.labels))
