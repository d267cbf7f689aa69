"""`python preprocess/prepare_pretraining.py`: the `recipes-preprocess` command
(`fairseq_recipes.preprocessing.binarize`), run from a checkout.

The package is installed into the project's environment (tools/bootstrap.sh), so this file
only names the command; it holds none of its code.
"""

from fairseq_recipes.preprocessing.binarize import cli_main

if __name__ == "__main__":
    cli_main()
