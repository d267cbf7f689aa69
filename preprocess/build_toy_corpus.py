"""`python preprocess/build_toy_corpus.py`: the `recipes-toy-corpus` command
(`fairseq_recipes.toy.corpus`), run from a checkout.

The package is installed into the project's environment (tools/bootstrap.sh), so this file
only names the command; it holds none of its code.
"""

from fairseq_recipes.toy.corpus import cli_main

if __name__ == "__main__":
    cli_main()
