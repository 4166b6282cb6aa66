"""Ablations: variants of a recipe/train/eval set-up, run with caching, compared with intervals."""
