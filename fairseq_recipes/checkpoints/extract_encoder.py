"""Recipe 1: turn a seq2seq (``bart_12eNd``) checkpoint into a ``roberta_12e`` checkpoint.

    recipes-extract-encoder --input checkpoints/bart-12e12d/checkpoint_last.pt \\
        --output checkpoints/bart-12e12d+mlm/encoder_init.pt

The encoder (embeddings, positions, every layer, the layer norms) is copied exactly from
``encoder.*`` to ``encoder.sentence_encoder.*``. The MLM head's output projection is
initialized from the input embeddings but is its own parameter (``--untie-weights-roberta``
when training on); the head's other weights (dense layer, layer norm, output bias) are
freshly initialized as fairseq initializes a RoBERTa head (normal(0, 0.02) weights, zero
biases, unit layer norm). The result carries no optimizer, scheduler nor meter state:
``--finetune-from-model`` trains it as a fresh run (``train_scripts/bart-12e12d+mlm.sh``).
Also callable from Python: :func:`extract_encoder`.
"""

import argparse
import dataclasses
import os
from argparse import Namespace

import torch

from ..atomic_files import atomic_write
from ..cli import command
from ..errors import RecipesError
from . import encoder_state

#: fairseq's BERT initialization of a Linear weight (init_bert_params)
_BERT_INIT_STD = 0.02


def _mlm_head(embed: torch.Tensor, seed: int) -> dict:
    vocab, dim = embed.shape
    generator = torch.Generator().manual_seed(seed)
    dense = torch.empty(dim, dim, dtype=embed.dtype)
    dense.normal_(0.0, _BERT_INIT_STD, generator=generator)
    prefix = encoder_state.MLM_HEAD_PREFIX
    return {
        f"{prefix}weight": embed.clone(),  # untied: a copy, not the same tensor
        f"{prefix}bias": torch.zeros(vocab, dtype=embed.dtype),
        f"{prefix}dense.weight": dense,
        f"{prefix}dense.bias": torch.zeros(dim, dtype=embed.dtype),
        f"{prefix}layer_norm.weight": torch.ones(dim, dtype=embed.dtype),
        f"{prefix}layer_norm.bias": torch.zeros(dim, dtype=embed.dtype),
    }


def _model_args(seq2seq_args, untie: bool = True) -> Namespace:
    """roberta_12e's arguments with the seq2seq encoder's shape (the MLM head's
    projection its own parameter, or with ``untie=False`` the embeddings)."""
    values = {k: v for k, v in vars(seq2seq_args).items() if not k.startswith("decoder_")}
    values.update(
        arch="roberta_12e",
        _name="roberta_12e",
        untie_weights_roberta=untie,
        max_positions=getattr(seq2seq_args, "max_source_positions", None),
        task="recipes_mlm",
        criterion="masked_lm",
    )
    return Namespace(**values)


def _task_cfg(seq2seq_task_cfg) -> dict:
    """recipes_mlm's configuration, keeping the data settings of the seq2seq run."""
    from ..tasks.mlm import MultilingualMLMConfig

    fields = {f.name for f in dataclasses.fields(MultilingualMLMConfig)}
    source = dict(seq2seq_task_cfg or {})
    kept = {k: v for k, v in source.items() if k in fields and k != "seed"}
    return {**kept, "_name": "recipes_mlm"}


def _cfg(state: dict, untie: bool = True) -> dict:
    from omegaconf import OmegaConf

    cfg = state.get("cfg")
    if cfg is None:
        raise RecipesError(
            "checkpoint has no cfg (fairseq < 0.10 checkpoints are not supported)"
        )
    if OmegaConf.is_config(cfg):
        cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    cfg = dict(cfg)
    model = cfg.get("model")
    if not isinstance(model, Namespace):
        raise RecipesError("checkpoint's model config is not a fairseq legacy Namespace")
    cfg["model"] = _model_args(model, untie)
    cfg["task"] = _task_cfg(cfg.get("task"))
    cfg["criterion"] = {"_name": "masked_lm", "tpu": False}
    return cfg


def extract_encoder(source, output, seed: int = 1, overwrite: bool = False) -> dict:
    """Write the ``roberta_12e`` checkpoint; returns a summary of what was copied."""
    output = str(output)
    if os.path.exists(output) and not overwrite:
        raise RecipesError(f"{output}: exists (pass --overwrite to replace it)")
    state = encoder_state.load(source)
    encoder_state.expect_kind(
        state,
        source,
        "seq2seq",
        hint="recipe 1 extracts the encoder of a bart_12eNd checkpoint",
    )
    weights = encoder_state.encoder_weights(state)
    embed = weights.get("embed_tokens.weight")
    if embed is None:
        raise RecipesError(f"{source}: the checkpoint has no encoder token embeddings")
    try:
        cfg = _cfg(state)
    except RecipesError as err:
        raise RecipesError(f"{source}: {err}") from None
    prefix = encoder_state.MLM_ENCODER_PREFIX
    model = {f"{prefix}{k}": v.clone() for k, v in weights.items()}
    model.update(_mlm_head(embed, seed))
    new_state = {
        "args": None,
        "cfg": cfg,
        "model": model,
        "criterion": None,
        "optimizer_history": [
            {
                "criterion_name": "MaskedLmLoss",
                "optimizer_name": "none",
                "lr_scheduler_state": {},
                "num_updates": 0,
            }
        ],
        "task_state": dict(state.get("task_state") or {}),
        "extra_state": {"train_iterator": {"epoch": 1}, "extracted_from": str(source)},
        "last_optimizer_state": None,
    }
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with atomic_write(output, "wb") as f:
        torch.save(new_state, f)
    layers = {k.split(".")[1] for k in weights if k.startswith("layers.")}
    return {
        "encoder_tensors": len(weights),
        "layers": len(layers),
        "vocab": embed.shape[0],
        "embed_dim": embed.shape[1],
    }


@command
def cli_main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="recipes-extract-encoder",
        description="Recipe 1: take the encoder out of a seq2seq (bart_12eNd) checkpoint "
        "as a roberta_12e checkpoint for continued MLM training. The encoder is copied "
        "exactly; the MLM head's output projection is initialized from the input "
        "embeddings but untied (train with --untie-weights-roberta); the head's dense "
        "layer, layer norm and output bias are freshly initialized (normal(0, 0.02) "
        "weights, zero biases, unit layer norm, as fairseq initializes RoBERTa). "
        "Train the result as a fresh run with --finetune-from-model.",
    )
    parser.add_argument("--input", required=True, help="seq2seq checkpoint (.pt)")
    parser.add_argument("--output", required=True, help="roberta_12e checkpoint to write")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the fresh head weights"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --output")
    args = parser.parse_args(argv)
    import fairseq_recipes  # noqa: F401  (weights-only loading of fairseq checkpoints)

    summary = extract_encoder(args.input, args.output, args.seed, args.overwrite)
    print(
        f"wrote {args.output}: encoder of {args.input} ({summary['layers']} layers, "
        f"width {summary['embed_dim']}, vocabulary {summary['vocab']}), untied MLM head"
    )


if __name__ == "__main__":
    cli_main()
