"""Sample-quality and task metrics, offline and with provenance.

>>> from gankit import metrics
>>> r = metrics.evaluate("runs/00001-dcgan-fashion-mnist32", metrics="fid,kid", n=10000)
>>> r["fid"], r["card"]["extractor"]["sha256"]

``evaluate`` returns a plain dict (scores + ``card``). The maths on feature matrices is in ``core``
(``fid``, ``kid``, ``inception_score``, ``precision_recall``, ``frechet_distance``), feature extractors in
``extractors``, PSNR / SSIM / LPIPS / D accuracy in ``task``, card comparison in ``card``.
"""
from __future__ import annotations

from . import card, core
from .card import compare as compare_cards
from .core import feature_stats, fid, frechet_distance, inception_score, kid, precision_recall
from .engine import evaluate, extract, reference_features
from .extractors import load_extractor, train_extractor
from .task import LPIPS, d_accuracy, psnr, ssim

__all__ = ["evaluate", "extract", "reference_features", "fid", "kid", "inception_score", "precision_recall",
           "frechet_distance", "feature_stats", "load_extractor", "train_extractor", "compare_cards", "card", "core",
           "psnr", "ssim", "LPIPS", "d_accuracy"]
