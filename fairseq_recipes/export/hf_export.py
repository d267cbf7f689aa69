"""``recipes-export-hf``: a fairseq checkpoint of this project as a transformers model.

    recipes-export-hf --checkpoint checkpoints/roberta-12e/checkpoint_last.pt --output hf/roberta-12e
    recipes-export-hf --checkpoint checkpoints/2stage-bart-12e12d/checkpoint_last.pt \\
        --output hf/2stage-bart-12e12d

The directory loads offline with ``AutoModelForMaskedLM`` (an MLM checkpoint: roberta_12e,
recipe 1's encoder) or ``AutoModelForSeq2SeqLM`` (bart_12eNd, recipe 2's standard
two-stage models), and ``AutoTokenizer``. Which class and how the weights map:
``hf_models.py``; the tokenizer: ``hf_tokenizer.py``. The dictionary and SentencePiece
model are the data's (``dict.txt`` and ``spm.model`` of ``--data``, or of its parent as
``recipes-preprocess`` lays them out; by default the checkpoint's own ``--data``), checked
against the dictionary the checkpoint was trained with.

The output is written under a temporary name and renamed when complete; an existing
directory is replaced only with ``--overwrite`` and only when it is an earlier export (it
holds ``fairseq_recipes_export.json``): a folder this command did not write is never
deleted. The same checkpoint and data give the same bytes. Needs the ``hf`` extra (``pip install fairseq_recipes[hf]``).
"""

import argparse
import json
from pathlib import Path

from .. import atomic_files
from ..checkpoints import encoder_state
from ..cli import command
from ..errors import RecipesError

DTYPES = ("float32", "float16", "bfloat16")
#: written into every export; an existing folder without it is never replaced
MARKER = "fairseq_recipes_export.json"


def _transformers():
    try:
        import transformers
    except ImportError:
        raise RecipesError(
            "transformers is not installed: pip install 'fairseq_recipes[hf]'"
        ) from None
    return transformers


def _data_dir(state, path, data) -> Path:
    """The folder holding dict.txt and spm.model (``data`` or its parent)."""
    if data is None:
        data = encoder_state.recorded_data(state)
        if data is None:
            raise RecipesError(f"{path}: the checkpoint names no --data; pass --data DIR")
    for folder in (Path(data), Path(data).parent):
        if (folder / "dict.txt").is_file() and (folder / "spm.model").is_file():
            return folder
    raise RecipesError(
        f"{data}: no dict.txt and spm.model here or in the parent folder "
        "(pass --data, the output folder of recipes-preprocess)"
    )


def export(checkpoint, output, data=None, dtype="float32", overwrite=False) -> dict:
    """Write the transformers directory; returns a summary of what was written."""
    import torch

    from ..preprocessing.vocab import load_dictionary
    from . import hf_models
    from .hf_tokenizer import build_tokenizer

    transformers = _transformers()
    output = Path(output)
    may_replace = _replaceable(overwrite)
    atomic_files.check_target(output, may_replace)
    state = encoder_state.load(checkpoint)
    kind = encoder_state.kind(state)
    if kind == "unknown":
        raise RecipesError(
            f"{checkpoint}: neither an MLM nor a seq2seq checkpoint of this project"
        )
    if kind == "joint":
        raise RecipesError(
            f"{checkpoint}: recipe 3's joint training checkpoint holds two models; "
            f"{encoder_state.JOINT_VIEWS_HINT}"
        )
    args = encoder_state.model_args(state)
    if args is None:
        raise RecipesError(f"{checkpoint}: the checkpoint stores no model arguments")
    folder = _data_dir(state, checkpoint, data)
    dictionary = load_dictionary(folder / "dict.txt")
    rows = encoder_state.encoder_weights(state)["embed_tokens.weight"].shape[0]
    encoder_state.check_dictionary(state, checkpoint, dictionary, rows)

    build = hf_models.roberta if kind == "mlm" else hf_models.mbart
    config_kwargs, weights = build(
        checkpoint, state["model"], args, getattr(torch, dtype)
    )
    special_ids = dict(
        bos_token_id=dictionary.bos(),
        pad_token_id=dictionary.pad(),
        eos_token_id=dictionary.eos(),
    )
    if kind == "mlm":
        config = transformers.RobertaPreLayerNormConfig(**config_kwargs, **special_ids)
        model = transformers.RobertaPreLayerNormForMaskedLM(config)
        max_tokens = config.max_position_embeddings - hf_models.POSITION_OFFSET
    else:
        config = transformers.MBartConfig(
            **config_kwargs, **special_ids, decoder_start_token_id=dictionary.eos()
        )
        model = transformers.MBartForConditionalGeneration(config)
        max_tokens = config.max_position_embeddings
        model.generation_config = transformers.GenerationConfig(
            **special_ids,
            **hf_models.fairseq_generation(
                dictionary.eos(), dictionary.pad(), max_tokens
            ),
        )
    model.load_state_dict(weights, strict=True)
    model.to(getattr(torch, dtype)).eval()
    tokenizer = build_tokenizer(folder / "spm.model", dictionary, max_tokens)

    summary = {
        "class": type(model).__name__,
        "kind": kind,
        "layers": (
            config_kwargs.get("num_hidden_layers")
            or f"{config.encoder_layers}+{config.decoder_layers}"
        ),
        "vocab": len(dictionary),
        "tied": config_kwargs["tie_word_embeddings"],
    }
    with atomic_files.atomic_directory(output, may_replace) as work:
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        # what lets a later --overwrite know the folder is ours (no time: same bytes)
        marker = {"format": "fairseq_recipes.hf_export", **summary}
        (work / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return summary


def _replaceable(overwrite: bool):
    """An existing ``--output`` is replaced only with ``--overwrite``, and only when it
    is an earlier export (never a folder this command did not write)."""

    def may_replace(folder: Path):
        if not overwrite:
            return "exists (pass --overwrite to replace it)"
        if not (folder / MARKER).is_file():
            return (
                f"not an output of recipes-export-hf (no {MARKER}); refusing to "
                "replace it even with --overwrite"
            )
        return None

    return may_replace


@command
def cli_main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="recipes-export-hf",
        description="Export an MLM checkpoint (roberta_12e, recipe 1's encoder) as "
        "transformers' RobertaPreLayerNormForMaskedLM, or a seq2seq checkpoint "
        "(bart_12eNd, recipe 2's standard two-stage models) as "
        "MBartForConditionalGeneration, with a tokenizer whose ids are the fairseq "
        "dictionary's. Attention-fusion models are refused: no stock transformers "
        "class computes them.",
    )
    parser.add_argument("--checkpoint", required=True, help="fairseq checkpoint (.pt)")
    parser.add_argument("--output", required=True, help="directory to write")
    parser.add_argument(
        "--data",
        default=None,
        help="folder with dict.txt and spm.model, or one of its shards (default: the "
        "checkpoint's --data)",
    )
    parser.add_argument(
        "--dtype", choices=DTYPES, default="float32", help="dtype of the saved weights"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --output")
    args = parser.parse_args(argv)
    import fairseq_recipes  # noqa: F401  (weights-only loading of fairseq checkpoints)

    # the command prints one line of its own: no transformers progress bars
    _transformers().utils.logging.disable_progress_bar()
    summary = export(args.checkpoint, args.output, args.data, args.dtype, args.overwrite)
    print(
        f"wrote {args.output}: {summary['class']} ({summary['layers']} layers, "
        f"vocabulary {summary['vocab']}, output projection "
        f"{'tied to' if summary['tied'] else 'untied from'} the embeddings) and its "
        "tokenizer"
    )


if __name__ == "__main__":
    cli_main()
