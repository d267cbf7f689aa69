"""`python preprocess/ud_text.py`: the `recipes-ud-text` command
(`fairseq_recipes.preprocessing.ud_text`), run from a checkout.

The package is installed into the project's environment (tools/bootstrap.sh), so this file
only names the command; it holds none of its code.
"""

from fairseq_recipes.preprocessing.ud_text import cli_main

if __name__ == "__main__":
    cli_main()
