"""fairseq_recipes: sequential pre-training of multilingual encoder and seq2seq models.

A fairseq plugin (``fairseq-train --user-dir fairseq_recipes``). fairseq itself
(``fairseq-fixed``) and torch are installed first by ``tools/bootstrap.sh``: fairseq's
setup.py imports torch and compiles C++ code, so it cannot be a plain requirement here
(pip would build it in an isolated environment with a multi-GB CUDA torch).
"""

from setuptools import find_packages, setup

setup(
    name="fairseq_recipes",
    version="0.1.0",
    description="Recipes for sequential pre-training of multilingual encoder and seq2seq models",
    python_requires=">=3.11",
    packages=find_packages(include=["fairseq_recipes", "fairseq_recipes.*"]),
    install_requires=[
        # installed by tools/bootstrap.sh before this package, see the docstring
        "torch>=2.1",
        "fairseq-fixed==0.12.3.1",
        "numpy<2.3",
        "sentencepiece>=0.2",
        "tqdm",
        "sacrebleu>=2.0",
        "seqeval>=1.2",
        "rouge-score>=0.1.2",
        "matplotlib>=3.7",
        "pyyaml>=6",
        "tabulate>=0.9",
        "tensorboardX>=2.6",  # --tensorboard-logdir (fairseq falls back to it)
    ],
    extras_require={
        "dev": ["pytest>=7", "black", "isort"],
        # ZeRO stage 1 (ZERO=1 in train_scripts: fairseq's --zero-sharding os). An sdist
        # whose build imports torch: install it with --no-build-isolation (bootstrap does)
        "zero": ["fairscale==0.4.13"],
        # recipes-export-hf: transformers' RoBERTa-PreLayerNorm and mBART classes and its
        # SentencePiece converter (the version the export is tested, and byte-stable, with)
        "hf": ["transformers==5.23.0"],
    },
    entry_points={
        "console_scripts": [
            "recipes-main = fairseq_recipes.pipeline.main:cli_main",
            "recipes-toy-corpus = fairseq_recipes.toy.corpus:cli_main",
            "recipes-toy-eval = fairseq_recipes.toy.eval_sets:cli_main",
            "recipes-ud-text = fairseq_recipes.preprocessing.ud_text:cli_main",
            "recipes-preprocess = fairseq_recipes.preprocessing.binarize:cli_main",
            "recipes-extract-encoder = fairseq_recipes.checkpoints.extract_encoder:cli_main",
            "recipes-cost = fairseq_recipes.cost.cli:cli_main",
            "recipes-finetune = fairseq_recipes.eval.finetune:cli_main",
            "recipes-report = fairseq_recipes.eval.report:cli_main",
            "recipes-export-hf = fairseq_recipes.export.hf_export:cli_main",
        ],
    },
)
