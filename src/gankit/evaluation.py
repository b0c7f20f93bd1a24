"""Evaluation of a checkpoint end to end (``gankit eval``): load it, generate, score against a reference set.

>>> from gankit.evaluation import evaluate
>>> r = evaluate("runs/00001-dcgan-fashion-mnist32", metrics="fid,kid", n=10000)
>>> r["fid"], r["card"]["extractor"]["sha256"]

``evaluate(fake, ref)`` takes a checkpoint (run dir / step folder / ``api.Generator``), an image folder, an
``ImageSet`` or a uint8 tensor on the fake side, a dataset name / folder / ``ImageSet`` on the reference side, and
returns a plain dict of scores with its provenance card. The maths and the feature cache are in ``gankit.metrics``;
this module sits above ``api`` because it reads checkpoints.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from . import api
from .config import DataConfig
from .data import ImageSet, load
from .data.images import resize_batch, to_uint8
from .errors import GankitError
from .metrics.engine import extract, generate_uint8, load_reference, make_card, parse_metrics, reference_features, score
from .metrics.extractors import Extractor, auto_spec, load_extractor
from .train import checkpoint as ckpt


def _is_checkpoint(x) -> bool:
    if not isinstance(x, (str, Path)):
        return False
    try:
        ckpt.resolve(x)
        return True
    except GankitError:
        return False


def evaluate(
    fake,
    ref=None,
    *,
    metrics=("fid", "kid", "is", "pr"),
    n: int = 10000,
    n_ref: int | None = None,
    extractor: str | Extractor = "auto",
    split: str | None = None,
    seed: int = 0,
    batch: int = 250,
    device: str = "cpu",
    inception_weights=None,
    cache: bool = True,
    ema: bool = True,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    is_splits: int = 10,
    pr_k: int = 3,
    size: int | None = None,
    log=None,
) -> dict:
    """Score ``fake`` against ``ref``. Returns ``{"fid": .., "kid": .., "kid_std": .., "is": .., "is_std": ..,
    "precision": .., "recall": .., "card": {...}, "seconds": ..}`` (only the requested metrics).

    ``size``: compare at size x size (reference and image folders are loaded at that size)."""
    metrics = parse_metrics(metrics)
    say = log or (lambda msg: None)
    t0 = time.time()
    if isinstance(extractor, str) and extractor not in ("auto", "random"):  # fail before any slow loading
        extractor = load_extractor(extractor, device, inception_weights)
    like, gen = None, None
    if isinstance(fake, api.Generator):
        gen = fake
    elif _is_checkpoint(fake):
        gen = api.load(fake, device=device, ema=ema)
    if gen is not None:
        like = gen.config.data if isinstance(gen.config.data, DataConfig) else None
    ref_set, split = load_reference(ref, like, split, n_ref, size)

    if gen is not None:
        fake_info = {
            "kind": "checkpoint",
            "path": str(gen.checkpoint.path),
            "recipe": gen.config.recipe,
            "step": gen.checkpoint.step,
            "ema": gen.ema,
            "latent_seed": seed,
        }
        fake_shape = list(gen.recipe.shape)
    elif isinstance(fake, ImageSet):
        fake_info = {"kind": "images", "name": fake.name, "fingerprint": fake.fingerprint()}
        fake_images, fake_shape = fake.images, list(fake.shape)
    elif torch.is_tensor(fake):
        if fake.dtype != torch.uint8:
            fake = to_uint8(fake)
        s = ImageSet(fake.cpu().contiguous(), None, [], "tensor", "memory")
        fake_info = {"kind": "tensor", "fingerprint": s.fingerprint()}
        fake_images, fake_shape = s.images, list(s.shape)
    elif isinstance(fake, (str, Path)) and Path(fake).expanduser().is_dir():
        s = load(DataConfig(name=f"folder:{fake}", size=size))
        fake_info = {"kind": "folder", "path": str(fake), "fingerprint": s.fingerprint()}
        fake_images, fake_shape = s.images, list(s.shape)
    else:
        raise GankitError(f"{fake}: neither a checkpoint (run dir / checkpoints/step-N) nor an image folder")

    if isinstance(extractor, str):
        spec = auto_spec(ref_set.name, inception_weights) if extractor == "auto" else extractor
        extractor = load_extractor(spec, device, inception_weights, channels=ref_set.shape[0], size=ref_set.shape[-1])
    if extractor.kind == "random":
        print(
            "warning: the random extractor checks plumbing only; its scores say nothing about image quality",
            file=sys.stderr,
        )
    say(f"extractor {extractor.name} ({extractor.sha256[:12]}), reference {ref_set.name} [{split}] n={len(ref_set)}")
    real, hit = reference_features(ref_set, split, extractor, batch, cache)
    say(f"reference features {'from cache' if hit else 'computed'} ({time.time() - t0:.1f}s)")

    if gen is not None:
        fake_images = generate_uint8(gen, n, seed, batch=max(batch, 500))
        say(f"generated {n} images ({time.time() - t0:.1f}s)")
    else:
        if n < len(fake_images):
            fake_images = fake_images[:n]
        if list(fake_images.shape[-2:]) != list(ref_set.shape[-2:]):
            fake_info["resized_to"] = list(ref_set.shape[-2:])
            fake_images = resize_batch(fake_images, ref_set.shape[-1])
    n_fake = len(fake_images)
    feats, logits = extract(extractor, fake_images, batch)
    say(f"fake features ({time.time() - t0:.1f}s)")
    options = {
        "kid_subsets": kid_subsets,
        "kid_subset_size": min(kid_subset_size, len(real), n_fake),
        "is_splits": min(is_splits, n_fake),
        "pr_k": pr_k,
    }
    scores = score(real, feats, logits, metrics, seed, kid_subsets, kid_subset_size, is_splits, pr_k)
    card = make_card(extractor, ref_set, split, len(real), n_fake, fake_info, fake_shape, seed, options, metrics)
    return {**scores, "card": card, "seconds": round(time.time() - t0, 2)}
