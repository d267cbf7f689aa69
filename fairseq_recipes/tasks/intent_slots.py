"""``--task recipes_intent_slots``: mATIS++ joint intent classification (head on
``<s>``) and slot filling (head on each word's first subword), each an MLP
(paper.INTENT_SLOTS_HEAD); the loss is the sum of both. A multi-intent utterance's
``#``-joined intents are one label."""

from fairseq.tasks import register_task

from .. import paper
from ..data.finetune.datasets import LabeledPiecesDataset
from ..eval.readers import matis
from .finetune import FinetuneConfig, FinetuneTask
from .word_tagging import tagged_pieces

INTENT_HEAD, SLOT_HEAD = "intent", "slots"


@register_task("recipes_intent_slots", dataclass=FinetuneConfig)
class IntentSlotsTask(FinetuneTask):
    @classmethod
    def read(cls, cfg, path, lang=None):
        return matis.read_matis(path)

    def define_labels(self, examples):
        self.labels = sorted({slot for ex in examples for slot in ex.slots})
        self.intents = sorted({ex.intent for ex in examples})

    def examples_dataset(self, examples):
        index = {label: i for i, label in enumerate(self.labels)}
        pieces, targets = tagged_pieces(self, examples, lambda ex: ex.slots, index)
        intents = [self.intents.index(examples[p.sentence].intent) for p in pieces]
        dataset = LabeledPiecesDataset(
            pieces, self.dictionary.pad(), token_targets=targets, sentence_targets=intents
        )
        return dataset, pieces

    def register_heads(self, model):
        model.register_head(INTENT_HEAD, paper.INTENT_SLOTS_HEAD, len(self.intents))
        model.register_head(SLOT_HEAD, paper.INTENT_SLOTS_HEAD, len(self.labels))
