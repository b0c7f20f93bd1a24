"""Layers and initialisers shared by the families."""

from .augment import diff_augment
from .init import init_weights
from .layers import (
    ConvTranspose2d,
    HistoricalAverage,
    MinibatchDiscrimination,
    check_pow2_size,
    conv_norm,
    dense_norm,
    grad_norm,
    maybe_sn,
)

__all__ = [
    "ConvTranspose2d",
    "init_weights",
    "diff_augment",
    "HistoricalAverage",
    "MinibatchDiscrimination",
    "grad_norm",
    "maybe_sn",
    "dense_norm",
    "conv_norm",
    "check_pow2_size",
]
