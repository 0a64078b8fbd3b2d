"""Training: GTZAN discovery, feature cache, splits, the one training loop, evaluation. No Qt."""
