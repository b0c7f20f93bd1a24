"""Layers and initialisers shared by the families."""
from .init import init_weights

__all__ = ["init_weights"]
