"""Fine-tuning model: any of the project's encoders with task heads (paper: fine-tuning).

``--encoder-from CKPT`` takes the encoder of any checkpoint the project produces:
``roberta_12e`` (and recipe 1's ``bart-12e12d+mlm``), the encoder of a ``bart_12eNd``, or
a two-stage model's encoder, taken out on the fly (``checkpoints/encoder_state.py``). The
encoder's shape comes from that checkpoint, so nothing needs repeating on the command
line; it is recorded in this model's arguments, so the fine-tuned checkpoint loads
without the pre-trained one. The MLM head, if any, is dropped. The encoder is built on
``meta`` and the checkpoint's tensors assigned (``compat/load_without_init.py``): no
encoder weight is drawn only to be overwritten (at width 1024 with 250,002 rows, seconds
of every fine-tuning run's start); the heads, registered after, are drawn as before.

Heads are MLPs (``MLPHead``: dropout, linear, GELU per hidden layer, then dropout and
the output layer) registered by the task: on the first token ``<s>`` for sentence labels,
on every position for word labels (the criterion reads the words' first subwords).
``--freeze-embeddings`` (the paper's setting) keeps the token and position embeddings
fixed; they are excluded from the optimizer, which fairseq builds from the parameters
that require gradients.
"""

import logging
from typing import Sequence

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta import RobertaModel
from torch import nn

from .. import paper
from ..checkpoints import encoder_state
from ..compat import load_without_init
from ..compat.checkpoint_loading import loading_checkpoint
from ..errors import RecipesError
from .architectures import roberta_12e

logger = logging.getLogger(__name__)

#: what the encoder of a seq2seq checkpoint calls its number of positions
_POSITIONS = ("max_positions", "max_source_positions", "tokens_per_sample")


class MLPHead(nn.Module):
    def __init__(
        self, input_dim: int, hidden: Sequence[int], classes: int, dropout: float
    ):
        super().__init__()
        layers, width = [], input_dim
        for size in hidden:
            layers += [nn.Dropout(dropout), nn.Linear(width, size), nn.GELU()]
            width = size
        layers += [nn.Dropout(dropout), nn.Linear(width, classes)]
        self.layers = nn.Sequential(*layers)

    def forward(self, features):
        return self.layers(features)


@register_model("recipes_encoder_heads")
class EncoderHeadsModel(RobertaModel):
    def __init__(self, args, encoder):
        super().__init__(args, encoder)
        self.heads = nn.ModuleDict()
        encoder.lm_head = None  # fine-tuning predicts labels, not tokens

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        parser.add_argument(
            "--encoder-from",
            metavar="CKPT",
            help="checkpoint whose encoder is fine-tuned: roberta_12e, a bart_12eNd, "
            "recipe 1's encoder or a two-stage model",
        )
        parser.add_argument(
            "--freeze-embeddings",
            action="store_true",
            help="keep the token and position embeddings fixed (the paper's setting)",
        )

    @classmethod
    def build_model(cls, args, task):
        state = None
        if getattr(args, "encoder_from", None) and not loading_checkpoint():
            state = encoder_state.load(args.encoder_from)
            _copy_shape(encoder_state.model_args(state), args, args.encoder_from)
        elif not loading_checkpoint():
            raise RecipesError("--encoder-from: the checkpoint to fine-tune is required")
        roberta_12e(args)
        build = super().build_model
        if state is None:  # fairseq's loader replaces the weights (and skips the init)
            model = build(args, task)
        else:  # every encoder weight comes from the checkpoint: none is drawn first
            model = load_without_init.built_and_loaded(
                lambda: build(args, task),
                lambda model: _load_encoder(
                    model, state, args.encoder_from, task.source_dictionary
                ),
            )
        if getattr(args, "freeze_embeddings", False):
            encoder = model.encoder.sentence_encoder
            for module in (encoder.embed_tokens, encoder.embed_positions):
                if module is not None:
                    module.weight.requires_grad = False
        return model

    def register_head(self, name: str, hidden: Sequence[int], classes: int):
        if name not in self.heads:
            dim = self.args.encoder_embed_dim
            self.heads[name] = MLPHead(dim, hidden, classes, self.args.pooler_dropout)

    def features(self, src_tokens) -> torch.Tensor:
        """B x T x C: the encoder's output for every position."""
        features, _ = self.encoder.extract_features(src_tokens)
        return features


def _copy_shape(source_args, args, path):
    if source_args is None:
        raise RecipesError(f"{path}: the checkpoint records no model arguments")
    for name, _ in encoder_state.ENCODER_SHAPE_ARGS:
        value = encoder_state.arg_value(source_args, name)
        if value is not None:
            setattr(args, name, value)
    for name in _POSITIONS:
        value = encoder_state.arg_value(source_args, name)
        if value is not None:
            args.max_positions = value
            break


def _load_encoder(model, state, path, dictionary):
    weights = encoder_state.encoder_weights(state)
    embed = weights.get("embed_tokens.weight")
    if embed is None:
        raise RecipesError(f"{path}: the checkpoint has no encoder token embeddings")
    encoder_state.check_dictionary(state, path, dictionary, embed.shape[0])
    target = model.encoder.sentence_encoder
    ours = target.state_dict()
    # a seq2seq encoder may carry a version buffer the RoBERTa encoder does not
    weights = {k: v for k, v in weights.items() if k in ours or not k.endswith("version")}
    encoder_state.check_same_keys(path, ours, weights)
    target.load_state_dict(weights, strict=True)
    logger.info(f"encoder of {path} ({encoder_state.kind(state)} checkpoint) loaded")


@register_model_architecture("recipes_encoder_heads", "recipes_encoder_heads")
def encoder_heads(args):
    args.pooler_dropout = getattr(args, "pooler_dropout", paper.DROPOUT)
    roberta_12e(args)
