"""Fine-tuning model: any seq2seq checkpoint of the project, as it was pre-trained.

``--arch recipes_seq2seq --seq2seq-from CKPT`` builds the checkpoint's own model
(``bart_12eNd`` or a two-stage model, attention fusion included) with the checkpoint's
shape and loads its weights, so the fine-tuning command repeats nothing of the
pre-training one. The model's options come from the checkpoint unless given on the
command line (``--dropout`` for example); two exceptions make a fine-tuning run of a
two-stage model a plain one: no warm start (``--init-encoder-from``) and no frozen
encoder unless ``--freeze-encoder-updates`` is given. The copied options are recorded in
this model's arguments, so the fine-tuned checkpoint loads without the pre-trained one
(``fairseq-generate --path``).

``--freeze-embeddings`` keeps the embedding layer fixed: the token and position
embeddings of the encoder and the decoder (not the paper's setting for seq2seq tasks,
``paper.FINETUNE_FREEZE_EMBEDDINGS``). An output projection that is the token embedding
matrix (``bart_12eNd`` shares them) is frozen with it; an untied one (two-stage models)
trains. Frozen weights are left out of the optimizer, which fairseq builds from the
parameters that require gradients.
"""

import argparse
import logging

from fairseq.models import (
    ARCH_CONFIG_REGISTRY,
    ARCH_MODEL_REGISTRY,
    register_model,
    register_model_architecture,
)
from fairseq.models.bart.model import BARTModel

from ..checkpoints import encoder_state
from ..compat import load_without_init
from ..compat.checkpoint_loading import loading_checkpoint
from ..errors import RecipesError
from .two_stage import TwoStageModel

logger = logging.getLogger(__name__)

ARCH = "recipes_seq2seq"


def _model_options(model_cls) -> set:
    parser = argparse.ArgumentParser(add_help=False)
    model_cls.add_args(parser)
    return set(vars(parser.parse_args([])))  # every option has a default


@register_model(ARCH)
class PretrainedSeq2Seq(BARTModel):
    """Never instantiated: ``build_model`` returns the checkpoint's own model class."""

    @staticmethod
    def add_args(parser):
        BARTModel.add_args(parser)
        parser.add_argument(
            "--seq2seq-from",
            metavar="CKPT",
            help="seq2seq checkpoint to fine-tune: a bart_12eNd or a two-stage model",
        )
        parser.add_argument(
            "--freeze-encoder-updates",
            type=int,
            metavar="N",
            help="two-stage models: keep the encoder frozen for the first N updates of "
            "fine-tuning (-1: throughout; default 0: never)",
        )
        parser.add_argument(
            "--freeze-embeddings",
            action="store_true",
            help="keep the token and position embeddings of encoder and decoder fixed",
        )

    @classmethod
    def build_model(cls, args, task):
        state = None
        if not loading_checkpoint():
            path = getattr(args, "seq2seq_from", None)
            if not path:
                raise RecipesError(
                    "--seq2seq-from: the checkpoint to fine-tune is required"
                )
            state = encoder_state.load(path)
            encoder_state.expect_kind(
                state, path, "seq2seq", "take recipe 1's encoder to recipes-finetune"
            )
            _copy_options(encoder_state.model_args(state), args, path)
        pretrained_arch = getattr(args, "pretrained_arch", None)
        if pretrained_arch not in ARCH_MODEL_REGISTRY:
            raise RecipesError(
                f"--arch {ARCH}: unknown pre-trained architecture {pretrained_arch!r}"
            )
        ARCH_CONFIG_REGISTRY[pretrained_arch](args)

        def build():
            with load_without_init.building():  # on meta inside loaded(): no memory
                return ARCH_MODEL_REGISTRY[pretrained_arch].build_model(args, task)

        if state is None:  # fairseq's loader replaces the weights (and skips the init)
            model = build()
        else:
            embed = state["model"].get("encoder.embed_tokens.weight")
            rows = embed.shape[0] if embed is not None else -1
            encoder_state.check_dictionary(
                state, args.seq2seq_from, task.source_dictionary, rows
            )
            # every weight comes from the checkpoint: none is drawn first
            model = load_without_init.built_and_loaded(
                build, lambda model: _load(model, state["model"], args.seq2seq_from)
            )
        if getattr(args, "freeze_embeddings", False):
            freeze_embeddings(model)
        return model


def freeze_embeddings(model) -> None:
    """No gradient for the token and position embeddings of encoder and decoder."""
    for stack in (model.encoder, model.decoder):
        for module in (stack.embed_tokens, getattr(stack, "embed_positions", None)):
            if module is not None:
                module.weight.requires_grad = False


def _copy_options(source, args, path) -> None:
    if source is None:
        raise RecipesError(f"{path}: the checkpoint records no model arguments")
    arch = encoder_state.arg_value(source, "arch") or encoder_state.arg_value(
        source, "_name"
    )
    if arch not in ARCH_MODEL_REGISTRY or arch == ARCH:
        raise RecipesError(f"{path}: a {arch!r} model, not a pre-trained seq2seq model")
    args.pretrained_arch = arch
    args.init_encoder_from = None  # the weights come from the checkpoint itself
    if getattr(args, "freeze_encoder_updates", None) is None:
        args.freeze_encoder_updates = 0
    elif not issubclass(ARCH_MODEL_REGISTRY[arch], TwoStageModel):
        raise RecipesError(
            f"--freeze-encoder-updates: {path} is a {arch} model, only two-stage models "
            "have a freeze schedule"
        )
    for name in _model_options(ARCH_MODEL_REGISTRY[arch]) - {"init_encoder_from"}:
        value = encoder_state.arg_value(source, name)
        if getattr(args, name, None) is None and value is not None:
            setattr(args, name, value)
    logger.info(f"fine-tuning {path}: a {arch} model")


def _load(model, weights, path):
    try:
        # a copy: fairseq's upgrade hooks edit the dict, and a second try needs it as read
        model.load_state_dict(dict(weights), strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise RecipesError(f"{path}: weights do not fit the model ({first})") from None


@register_model_architecture(ARCH, ARCH)
def recipes_seq2seq(args):
    """Everything comes from the checkpoint (see ``build_model``)."""
