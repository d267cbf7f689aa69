"""Recipe 3's model: ``bart_12e12d`` whose encoder also carries an MLM head.

``--arch bart_12e12d_joint`` (model ``recipes_joint``) is fairseq's BART with the shape of
``bart_12e12d`` (built exactly as it is, so the same seed gives it the same initial
weights) plus ``mlm_head``, fairseq's ``RobertaLMHead`` on the encoder's output (dense,
GELU, layer norm, output projection + bias), initialized as fairseq initializes RoBERTa's
and with its projection tied to the one embedding matrix that encoder, decoder and output
layer already share, as ``roberta_12e``'s is tied to its embeddings.

One ``forward`` serves all three ways an update can use it (so that distributed training
sees one forward per batch):

* ``model(src_tokens, src_lengths, prev_output_tokens)``: span denoising through the whole
  model (BART's call and output);
* ``model(src_tokens, src_lengths, masked_tokens=...)``: MLM through the encoder alone
  (RoBERTa's call; returns ``(logits, {})``), the decoder untouched;
* both at once: BART's call plus ``mlm_src_tokens`` and ``masked_tokens``; the MLM logits
  are ``extra["mlm_logits"]``.

:meth:`idle_parameters` names what an update of some objectives leaves alone (the
decoder's own parameters for MLM, the MLM head's own for span denoising), so that the task
can keep them bit-identical under optimizers that hand them zero gradients (``freeze.py``).
The run's checkpoints also yield a plain encoder checkpoint and a plain seq2seq checkpoint
(``checkpoints/joint_views.py``).
"""

from fairseq.models import register_model, register_model_architecture
from fairseq.models.bart.model import BARTModel
from fairseq.models.roberta.model import RobertaLMHead
from fairseq.modules.transformer_sentence_encoder import init_bert_params

from ..data.objective_schedule import DENOISING, MLM
from .architectures import bart_12e12d


@register_model("recipes_joint")
class JointModel(BARTModel):
    """``bart_12e12d`` + an MLM head on its encoder (see the module docstring)."""

    def __init__(self, args, encoder, decoder):
        super().__init__(args, encoder, decoder)  # BART's init_bert_params runs here
        embed = encoder.embed_tokens
        self.mlm_head = RobertaLMHead(
            embed.embedding_dim, embed.num_embeddings, args.activation_fn, embed.weight
        )
        self.mlm_head.apply(init_bert_params)  # only its dense layer: RoBERTa's init

    def mlm_logits(self, src_tokens, masked_tokens=None):
        """The MLM head on the encoder's output (``masked_tokens``: only those rows)."""
        out = self.encoder(src_tokens, src_lengths=None, return_all_hiddens=False)
        features = out["encoder_out"][0].transpose(0, 1)  # B x T x C
        return self.mlm_head(features, masked_tokens)

    def forward(
        self,
        src_tokens,
        src_lengths,
        prev_output_tokens=None,
        masked_tokens=None,
        mlm_src_tokens=None,
        **kwargs,
    ):
        if prev_output_tokens is None:  # MLM only: the encoder and its head
            return self.mlm_logits(src_tokens, masked_tokens), {}
        # BART keeps every encoder layer's output by default; nothing here reads them
        kwargs.setdefault("return_all_hiddens", False)
        x, extra = super().forward(src_tokens, src_lengths, prev_output_tokens, **kwargs)
        if mlm_src_tokens is not None:
            extra["mlm_logits"] = self.mlm_logits(mlm_src_tokens, masked_tokens)
        return x, extra

    def idle_parameters(self, objectives):
        """The parameters an update training ``objectives`` computes nothing with."""
        shared = {id(p) for p in self.encoder.parameters()}
        idle = []
        if DENOISING not in objectives:
            idle += [p for p in self.decoder.parameters() if id(p) not in shared]
        if MLM not in objectives:
            idle += [p for p in self.mlm_head.parameters() if id(p) not in shared]
        return idle


@register_model_architecture("recipes_joint", "bart_12e12d_joint")
def bart_12e12d_joint(args):
    bart_12e12d(args)
