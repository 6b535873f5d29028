"""Where a sentence embedding looks: per-position occlusion and integrated gradients, and their figures."""
