"""Recipe 2's warm start: copy an MLM encoder into a seq2seq model's encoder, exactly.

Token and position embeddings, the embedding layer norm, every encoder layer and the final
layer norm are copied from ``encoder.sentence_encoder.*`` of a RoBERTa-style checkpoint
(``roberta_12e``, or recipe 1's output) into ``encoder.*``; the MLM head is dropped. The
seq2seq model shares the token embeddings with its decoder input and initializes its own
output projection from them.

It runs once, when a new training run builds the model: not while fairseq restores a
model from a checkpoint (``fairseq-generate``, fine-tuning), and not when the run resumes
from ``checkpoint_last.pt`` (whose weights replace the model's anyway), so neither needs
the MLM checkpoint any more.
"""

import logging
import os

import torch

from ..compat.checkpoint_loading import loading_checkpoint
from ..errors import RecipesError
from . import encoder_state

logger = logging.getLogger(__name__)


def resume_checkpoint(args):
    """The checkpoint fairseq-train will restore the whole model from, or None."""
    save_dir = getattr(args, "save_dir", None)
    restore = getattr(args, "restore_file", None) or "checkpoint_last.pt"
    if save_dir is None:
        return None
    path = os.path.join(save_dir, restore) if restore == "checkpoint_last.pt" else restore
    return path if os.path.isfile(path) else None


def should_warm_start(args) -> bool:
    path = getattr(args, "init_encoder_from", None)
    if not path:
        return False
    if loading_checkpoint():
        return False
    resume = resume_checkpoint(args)
    if resume is not None:
        logger.info(f"warm start from {path} skipped: the run resumes from {resume}")
        return False
    return True


def warm_start_encoder(model, path, dictionary, args) -> None:
    """Copy the MLM encoder at ``path`` into ``model.encoder`` (two-stage model)."""
    state = encoder_state.load(path)
    encoder_state.expect_kind(
        state,
        path,
        "mlm",
        hint="--init-encoder-from takes an MLM encoder such as roberta_12e's (recipe 1's "
        "recipes-extract-encoder turns a seq2seq checkpoint into one)",
    )
    weights = encoder_state.encoder_weights(state)
    encoder_state.check_encoder_shape(encoder_state.model_args(state), args, path)
    embed = weights.get("embed_tokens.weight")
    if embed is None:
        raise RecipesError(f"{path}: the checkpoint has no encoder token embeddings")
    encoder_state.check_dictionary(state, path, dictionary, embed.shape[0])
    ours = model.encoder.state_dict()
    positions = weights.get("embed_positions.weight")
    if positions is not None and "embed_positions.weight" in ours:
        if positions.shape != ours["embed_positions.weight"].shape:
            raise RecipesError(
                f"{path}: the checkpoint's encoder has {positions.shape[0]} position "
                f"rows, this model {ours['embed_positions.weight'].shape[0]} "
                "(--max-source-positions must equal the MLM model's --max-positions)"
            )
    encoder_state.check_same_keys(path, ours, weights)
    for key, value in weights.items():
        if value.shape != ours[key].shape:
            raise RecipesError(
                f"{path}: encoder weight {key} has shape {tuple(value.shape)} in the "
                f"checkpoint but {tuple(ours[key].shape)} here"
            )
    with torch.no_grad():
        model.encoder.load_state_dict(weights, strict=True)
        model.decoder.output_projection.weight.copy_(model.encoder.embed_tokens.weight)
    logger.info(
        f"warm start: encoder ({len(weights)} tensors) copied from {path}; "
        "decoder input embeddings tied to it, output projection initialized from it"
    )
