"""Sample-quality and task metrics, offline and with provenance.

Plain functions on tensors and images; nothing here reads a checkpoint (scoring a checkpoint end to end is
``gankit.evaluation.evaluate``, one floor above ``api``). The maths on feature matrices is in ``core``
(``fid``, ``kid``, ``inception_score``, ``precision_recall``, ``frechet_distance``), feature extractors in
``extractors``, features / reference cache / scores / cards in ``engine``, PSNR / SSIM / LPIPS / D accuracy in
``task``, the held-out PSNR/SSIM of a super-resolution net in ``sr``, card comparison in ``card``.
"""

from __future__ import annotations

from . import card, core
from .card import compare as compare_cards
from .core import feature_stats, fid, frechet_distance, inception_score, kid, precision_recall
from .engine import extract, reference_features
from .extractors import load_extractor, train_extractor
from .task import LPIPS, d_accuracy, psnr, ssim

__all__ = [
    "extract",
    "reference_features",
    "fid",
    "kid",
    "inception_score",
    "precision_recall",
    "frechet_distance",
    "feature_stats",
    "load_extractor",
    "train_extractor",
    "compare_cards",
    "card",
    "core",
    "psnr",
    "ssim",
    "LPIPS",
    "d_accuracy",
]
