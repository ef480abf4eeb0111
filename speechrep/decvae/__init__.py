"""DecVAE: variational decomposition autoencoders (Ziogas et al., 2026).

Decomposition models, the DecVAE model, its losses and baselines.
"""
