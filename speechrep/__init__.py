"""speechrep: analyse and disentangle the representations of neural speech models."""

__version__ = "0.1.0"
