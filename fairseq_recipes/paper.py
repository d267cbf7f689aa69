"""Every number the paper states, in one place.

Soltan et al., "Recipes for Sequential Pre-training of Multilingual Encoder and Seq2Seq
Models", Findings of ACL 2023. Settings the paper leaves open are XLM-R's (Conneau et al.
2020) or fairseq's RoBERTa recipe, and say so. Nothing else in the project types these
numbers: scripts read them through ``fairseq_recipes.recipes``.
"""

# ---- data (paper: pre-training data) --------------------------------------------
#: the paper's 12 pre-training languages
LANGUAGES = ("ar", "de", "en", "es", "fr", "hi", "it", "ja", "mr", "pt", "ta", "te")
#: language sampling exponent, p_i ~ (n_i / N)^alpha (XLM-R; the paper follows it)
SAMPLING_ALPHA = 0.3
#: tokens per training block, bos and eos included
TOKENS_PER_SAMPLE = 512
#: SentencePiece character coverage for many scripts (sentencepiece's multilingual default)
CHARACTER_COVERAGE = 0.9995

# ---- noise (paper: pre-training objectives) -------------------------------------
#: MLM: fraction of tokens selected; of those 80% <mask>, 10% random, 10% unchanged
MLM_MASK_PROB = 0.15
MLM_RANDOM_TOKEN_PROB = 0.1
MLM_LEAVE_UNMASKED_PROB = 0.1
#: span denoising (BART/mBART text infilling): fraction of tokens noised, span lengths
SPAN_NOISE_RATIO = 0.15
SPAN_POISSON_LAMBDA = 3.0

# ---- model shapes (paper, Table 1) -------------------------------------------------------
#: vocabulary size of the FLOP tables: XLM-R's SentencePiece vocabulary (Conneau et al.
#: 2020); an assumption, the paper does not state its own. The trained models take the
#: size of the dictionary that recipes-preprocess builds.
VOCAB = 250_000
HIDDEN = 1024
FFN = 4096
HEADS = 16
ENCODER_LAYERS = 12
#: decoder depths of the seq2seq models: bart_12e12d, bart_12e2d, bart_12e1d
DECODER_LAYERS = {"bart_12e12d": 12, "bart_12e2d": 2, "bart_12e1d": 1}
DROPOUT = 0.1
#: XLM-R's (the paper does not say): dropout inside attention and after the activation
ATTENTION_DROPOUT = 0.1
ACTIVATION_DROPOUT = 0.0

# ---- pre-training optimisation (paper: pre-training setup) ----------------------
TOKENS_PER_UPDATE = 1_000_000
PRETRAIN_UPDATES = 500_000
PRETRAIN_PEAK_LR = 1.5e-4
PRETRAIN_WARMUP_UPDATES = 5_000
PRETRAIN_END_LR = 5e-6
#: Adam, with XLM-R's / RoBERTa's betas, epsilon, weight decay and clipping (not in the paper)
ADAM_BETAS = (0.9, 0.98)
ADAM_EPS = 1e-6
WEIGHT_DECAY = 0.01
CLIP_NORM = 0.0

# ---- recipe 1: the seq2seq encoder continued with MLM (paper: recipe 1, Table 1 row "bart-12e12d+mlm") -----------------
MLM_CONTINUE_UPDATES = 100_000
MLM_CONTINUE_PEAK_LR = 1e-4
MLM_CONTINUE_WARMUP_UPDATES = 1_000

# ---- recipe 2: two-stage seq2seq from the MLM encoder (paper: recipe 2, Table 1 rows "2stage-*") -----------------
TWO_STAGE_UPDATES = 500_000
#: the "-unfrz" variant: frozen for the first 200k updates, then 150k unfrozen
UNFREEZE_FROZEN_UPDATES = 200_000
UNFREEZE_UNFROZEN_UPDATES = 150_000

# ---- compute (paper, Table 1) -----------------------------------------------------------
#: one Training Unit: 100k updates of 12 layers of width 1024 at 1M tokens per update
TU_UPDATES = 100_000
TU_LAYERS = 12
TU_HIDDEN = HIDDEN
TU_TOKENS_PER_UPDATE = TOKENS_PER_UPDATE
#: the paper's estimate of a frozen layer's cost relative to a trained one (forward only)
FROZEN_LAYER_COST = 0.5

# ---- fine-tuning (paper: fine-tuning setup, Table 2) ------------------------------------
#: every fine-tuning result is a mean over this many runs (seeds)
FINETUNE_SEEDS = 3
FINETUNE_ADAM_BETAS = (0.9, 0.99)
FINETUNE_WEIGHT_DECAY = 0.1
FINETUNE_DROPOUT = 0.1
#: heads: hidden layers of the MLP (GELU) on the encoder output
PAIR_HEAD = (512,)  # XNLI, on <s>
TAGGING_HEAD = (512,)  # WikiANN, UDPOS, on each word's first subword
INTENT_SLOTS_HEAD = (256, 256)  # mATIS++: one for the intent (<s>), one for the slots
#: per task (Table 10): peak learning rate (linear warmup from 0, linear decay to 0),
#: warmup updates, sentences per batch, epochs, max updates.
#: The decay rule, one for every task (seq2seq ones included): the linear decay reaches
#: its end at the max updates (fairseq's ``--total-num-update``), and training stops at
#: the first of the epochs and the max updates. The other reading, a decay ending where
#: training ends, at min(max updates, epochs x steps per epoch), was the code's until
#: issue 21. Why this one: Table 10 gives both columns, and only this reading lets both
#: act. For three tasks they agree with the training sets' sizes (UDPOS: 9k updates of 56
#: epochs at batch 128 are 20.6k English sentences, about what XTREME's merged treebanks
#: hold; mATIS++: about 4.5k utterances, 200 epochs 7k, max 7k; WikiANN: 20k sentences, 20
#: epochs 3.1k, max 3k), so either reading gives the same run. XNLI's 5 epochs of MultiNLI
#: (392,702 pairs) are 15.3k updates against a max of 30k: decaying over min() would leave
#: that 30k read by nothing, whereas a max written as the scheduler's horizon is what
#: fairseq's own fine-tuning recipes do (RoBERTa's GLUE: --total-num-update with
#: --max-epoch). XNLI thus stops after 5 epochs with the learning rate about half its
#: peak.
FINETUNE = {
    "xnli": dict(
        peak_lr=1e-5, warmup_updates=1000, batch_size=128, epochs=5, max_updates=30_000
    ),
    "matis": dict(
        peak_lr=3e-5, warmup_updates=500, batch_size=128, epochs=200, max_updates=7_000
    ),
    "wikiann": dict(
        peak_lr=3e-5, warmup_updates=300, batch_size=128, epochs=20, max_updates=3_000
    ),
    "udpos": dict(
        peak_lr=3e-5, warmup_updates=1000, batch_size=128, epochs=56, max_updates=9_000
    ),
}

#: whether fine-tuning keeps the embedding layer (token and position embeddings) fixed,
#: per task. The paper's Appendix C says "we freeze the embedding layer" in its paragraph
#: on fine-tuning the encoders (XNLI, mATIS++, WikiANN, UDPOS); its paragraph on the
#: seq2seq tasks (mTOP, XSUM) states no freezing, so they fine-tune every weight, as the
#: seq2seq models' fine-tuning did before. ``recipes-finetune --[no-]freeze-embeddings``
#: overrides. (A seq2seq model whose output projection is its embedding matrix freezes
#: that projection with it: one tensor.)
FINETUNE_FREEZE_EMBEDDINGS = {
    "xnli": True,
    "matis": True,
    "wikiann": True,
    "udpos": True,
    "mtop": False,
    "xsum": False,
}

# ---- evaluation data (paper: Section 3.1, Table 11) ---------------------------------
#: the paper evaluates "UDPOS (XTREME version)": XTREME (Hu et al. 2020) builds it from
#: Universal Dependencies v2.5, every treebank of a language merged per split
#: (eval/readers/udpos.py)
UD_VERSION = "2.5"

# ---- seq2seq fine-tuning (paper: fine-tuning setup, mTOP and XSUM) ----------------------
#: AdamW as above (FINETUNE_ADAM_BETAS, FINETUNE_WEIGHT_DECAY, FINETUNE_DROPOUT); the
#: learning rate warms up exponentially from SEQ2SEQ_FINETUNE_INIT_LR to the peak, then
#: decays linearly to SEQ2SEQ_FINETUNE_END_LR (the ``recipes_exponential_warmup``
#: scheduler), at the max updates; training stops at the first of the max epochs and the
#: max updates (FINETUNE's rule)
SEQ2SEQ_FINETUNE_PEAK_LR = 5e-6
SEQ2SEQ_FINETUNE_INIT_LR = 1e-7  # exponential warmup starts here
SEQ2SEQ_FINETUNE_END_LR = 1e-7  # linear decay ends here
SEQ2SEQ_FINETUNE_WARMUP_UPDATES = 1000
SEQ2SEQ_FINETUNE_BATCH_SIZE = 32
SEQ2SEQ_FINETUNE_MAX_EPOCHS = 200
SEQ2SEQ_FINETUNE_MAX_UPDATES = 50_000
SEQ2SEQ_FINETUNE_BEAM = 3
