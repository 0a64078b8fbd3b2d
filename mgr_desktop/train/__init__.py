"""Training: GTZAN discovery, feature cache, splits, one run lifecycle (`lifecycle`) for the full
network, the frozen-backbone head and distillation, evaluation. No Qt."""
