"""Model shapes, parameter counts and compute cost."""
