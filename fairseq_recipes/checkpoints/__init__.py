"""Moving encoders between checkpoints: recipe 1's extraction, recipe 2's warm start."""
