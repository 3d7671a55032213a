"""Statistics: the fused single-pass kernel, candidate batches and metric definitions."""
