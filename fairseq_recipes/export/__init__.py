"""Export to Hugging Face transformers (``recipes-export-hf``). Not imported by the plugin:
transformers is an optional extra (``pip install 'fairseq_recipes[hf]'``)."""
