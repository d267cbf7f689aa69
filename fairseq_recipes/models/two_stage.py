"""Recipe 2: a seq2seq model warm-started from the MLM encoder, encoder frozen for a while.

``--arch two_stage_bart_12e12d`` (model ``recipes_two_stage``) is ``bart_12e12d`` with:

* ``--init-encoder-from PATH``: the encoder copied from an MLM checkpoint when a new run
  starts (``fairseq_recipes.checkpoints.warm_start``);
* the decoder's input embeddings tied to the encoder's (one tensor), and an output
  projection of its own (untied), initialized from those embeddings, that trains from
  the first update;
* ``--freeze-encoder-updates N``: the encoder and the shared embeddings are frozen for
  the first N updates (-1: throughout, 0: never). The phase follows the update count
  fairseq hands the model, so a resumed run is in the phase an uninterrupted one would
  be. Everything stays in the optimizer from the start (see ``freeze.py`` for why and
  how the frozen weights are kept bit-identical); while frozen the encoder runs under
  ``torch.no_grad`` (no activation memory, forward cost only) with its dropout as in
  training, as fairseq's own freezing models do;
* ``--cross-attention fusion``: every decoder layer attends to a learned mixture of all
  encoder layers (``attention_fusion.py``); ``standard`` reads the last layer only.
"""

import contextlib
import logging

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.bart.model import BARTModel
from fairseq.models.transformer import TransformerConfig, transformer_legacy
from fairseq.models.transformer.transformer_decoder import TransformerDecoderBase
from fairseq.models.transformer.transformer_encoder import TransformerEncoderBase

from ..checkpoints.warm_start import should_warm_start, warm_start_encoder
from ..errors import RecipesError
from .architectures import bart_12e12d
from .attention_fusion import FusedMemoryDecoderLayer, LayerFusion
from .freeze import FreezableEmbedding

logger = logging.getLogger(__name__)

CROSS_ATTENTION_CHOICES = ("standard", "fusion")


class TwoStageEncoder(TransformerEncoderBase):
    """fairseq's encoder with a freeze schedule, and the stacked layer states for fusion."""

    def __init__(self, cfg, dictionary, embed_tokens, freeze_updates: int, fusion: bool):
        super().__init__(cfg, dictionary, embed_tokens)
        self.freeze_updates = freeze_updates
        self.fusion = fusion
        self.frozen = False
        self.set_num_updates(0)

    def set_num_updates(self, num_updates):
        frozen = self.freeze_updates == -1 or num_updates < self.freeze_updates
        if self.frozen and not frozen:
            logger.info(f"encoder unfrozen at update {num_updates}")
        self.frozen = frozen
        self.embed_tokens.frozen = frozen

    def forward(
        self,
        src_tokens,
        src_lengths=None,
        return_all_hiddens=False,
        token_embeddings=None,
    ):
        grad = torch.no_grad() if self.frozen else contextlib.nullcontext()
        with grad:
            out = super().forward(
                src_tokens,
                src_lengths,
                return_all_hiddens or self.fusion,
                token_embeddings,
            )
            if self.fusion:
                states = torch.stack(out["encoder_states"][1:], dim=2)  # T x B x K x C
                if self.layer_norm is not None:
                    states = self.layer_norm(states)
                out["fusion_states"] = [states]
                if not return_all_hiddens:
                    out["encoder_states"] = []
        return out

    def reorder_encoder_out(self, encoder_out, new_order):
        reordered = super().reorder_encoder_out(encoder_out, new_order)
        if encoder_out.get("fusion_states"):
            reordered["fusion_states"] = [
                encoder_out["fusion_states"][0].index_select(1, new_order)
            ]
        return reordered


class TwoStageDecoder(TransformerDecoderBase):
    """fairseq's decoder; with fusion, each layer reads its own mixture of encoder layers."""

    def __init__(self, cfg, dictionary, embed_tokens, fusion: bool):
        self.fusion = fusion  # read by build_decoder_layer during the base __init__
        super().__init__(cfg, dictionary, embed_tokens, no_encoder_attn=False)
        self.layer_fusion = (
            LayerFusion(self.num_layers, cfg.decoder.embed_dim) if fusion else None
        )

    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        if not self.fusion:
            return super().build_decoder_layer(cfg, no_encoder_attn)
        if cfg.checkpoint_activations:
            raise RecipesError(
                "--cross-attention fusion does not support --checkpoint-activations"
            )
        return FusedMemoryDecoderLayer(cfg, no_encoder_attn)

    def _cross_attention_cached(self, incremental_state) -> bool:
        if incremental_state is None:
            return False
        buffer = self.layers[0].encoder_attn._get_input_buffer(incremental_state)
        return "prev_key" in buffer

    def extract_features_scriptable(
        self, prev_output_tokens, encoder_out, incremental_state=None, *args, **kwargs
    ):
        if self.layer_fusion is None or encoder_out is None:
            return super().extract_features_scriptable(
                prev_output_tokens, encoder_out, incremental_state, *args, **kwargs
            )
        memories = None
        if not self._cross_attention_cached(incremental_state):
            if not encoder_out.get("fusion_states"):
                raise RecipesError(
                    "--cross-attention fusion: the encoder output has no fusion_states "
                    "(the encoder must be this model's TwoStageEncoder)"
                )
            memories = self.layer_fusion(encoder_out["fusion_states"][0])
        for i, layer in enumerate(self.layers):
            layer.fused_memory = memories[i] if memories is not None else None
        try:
            return super().extract_features_scriptable(
                prev_output_tokens, encoder_out, incremental_state, *args, **kwargs
            )
        finally:
            for layer in self.layers:
                layer.fused_memory = None


@register_model("recipes_two_stage")
class TwoStageModel(BARTModel):
    """Recipe 2's seq2seq model (see the module docstring)."""

    @staticmethod
    def add_args(parser):
        BARTModel.add_args(parser)
        parser.add_argument(
            "--init-encoder-from",
            metavar="PATH",
            default=None,
            help="MLM checkpoint (e.g. roberta_12e's) whose encoder initializes this "
            "model's when a new run starts; its MLM head is dropped",
        )
        parser.add_argument(
            "--freeze-encoder-updates",
            type=int,
            metavar="N",
            default=0,
            help="freeze the encoder and the shared embeddings for the first N updates "
            "(-1: throughout, 0: never)",
        )
        parser.add_argument(
            "--cross-attention",
            choices=CROSS_ATTENTION_CHOICES,
            default="standard",
            help="standard: the decoder attends to the last encoder layer; fusion: each "
            "decoder layer to a learned per-token mixture of all encoder layers",
        )

    @classmethod
    def build_model(cls, args, task):
        if args.freeze_encoder_updates < -1:
            raise RecipesError(
                f"--freeze-encoder-updates {args.freeze_encoder_updates}: use -1 (frozen "
                "throughout), 0 (never frozen) or a positive number of updates"
            )
        transformer_legacy.base_architecture(args)
        if args.decoder_embed_dim != args.encoder_embed_dim:
            raise RecipesError(
                f"--decoder-embed-dim {args.decoder_embed_dim} must equal "
                f"--encoder-embed-dim {args.encoder_embed_dim}: the decoder's input "
                "embeddings are the encoder's"
            )
        cfg = TransformerConfig.from_namespace(args)
        dictionary = task.source_dictionary
        if task.target_dictionary != dictionary:
            raise RecipesError(
                "recipes_two_stage needs one dictionary for source and target"
            )
        embed_tokens = FreezableEmbedding(
            len(dictionary), cfg.encoder.embed_dim, dictionary.pad()
        )
        fusion = args.cross_attention == "fusion"
        encoder = TwoStageEncoder(
            cfg, dictionary, embed_tokens, args.freeze_encoder_updates, fusion
        )
        # one embedding matrix for encoder and decoder input; the decoder builds its own
        # output projection because share_decoder_input_output_embed is off
        decoder = TwoStageDecoder(cfg, dictionary, embed_tokens, fusion)
        model = cls(args, encoder, decoder)  # BART's init_bert_params runs here
        with torch.no_grad():
            model.decoder.output_projection.weight.copy_(embed_tokens.weight)
        if should_warm_start(args):
            warm_start_encoder(model, args.init_encoder_from, dictionary, args)
        return model

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        # BART keeps every encoder layer's output by default; we need them only for fusion
        kwargs.setdefault("return_all_hiddens", False)
        return super().forward(src_tokens, src_lengths, prev_output_tokens, **kwargs)

    def frozen_parameters(self):
        """The parameters frozen at the current update (encoder and shared embeddings)."""
        return list(self.encoder.parameters()) if self.encoder.frozen else []


@register_model_architecture("recipes_two_stage", "two_stage_bart_12e12d")
def two_stage_bart_12e12d(args):
    # decoder input tied to the encoder by the model itself; the output projection untied
    args.share_all_embeddings = getattr(args, "share_all_embeddings", False)
    args.share_decoder_input_output_embed = getattr(
        args, "share_decoder_input_output_embed", False
    )
    args.freeze_encoder_updates = getattr(args, "freeze_encoder_updates", 0)
    args.cross_attention = getattr(args, "cross_attention", "standard")
    args.init_encoder_from = getattr(args, "init_encoder_from", None)
    bart_12e12d(args)
