"""Scoring images against a reference set: the engine behind ``gankit.evaluation.evaluate`` (``gankit eval``) and
periodic evaluation during training.

Features of uint8 images (``extract``), reference features cached per (dataset fingerprint, split, extractor
weights, image size) under ``$GANKIT_CACHE/refstats`` (``reference_features``), the scores from feature matrices
(``score``) and their provenance card (``make_card``). Nothing here reads a checkpoint: that is one floor up.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch

from ..config import DataConfig
from ..data import ImageSet
from ..data.images import to_uint8
from ..errors import GankitError
from ..fileio import cache_dir, gankit_version, write_text_atomic
from . import core
from .extractors import HAS_TEST_SPLIT, Extractor, dataset_key

METRICS = ("fid", "kid", "is", "pr")
PROTOCOL = "gankit-eval/1"


def parse_metrics(spec: str | list | tuple) -> list[str]:
    items = [m.strip().lower() for m in (spec.split(",") if isinstance(spec, str) else spec) if m.strip()]
    bad = [m for m in items if m not in METRICS]
    if bad or not items:
        raise GankitError(f"--metrics: unknown {', '.join(bad) or '(none)'} (choose from {', '.join(METRICS)})")
    return items


def default_split(dataset: str) -> str:
    return "test" if dataset_key(dataset) in HAS_TEST_SPLIT else "train"


# --------------------------------------------------------------------------- features


@torch.no_grad()
def extract(extractor: Extractor, images: torch.Tensor, batch: int = 250) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and logits of uint8 images, in batches, on the extractor's device; float32 on the CPU."""
    dev = next(extractor.parameters()).device
    feats, logits = [], []
    for b in images.split(batch):
        f, lg = extractor(b.to(dev))
        feats.append(f.float().cpu())
        logits.append(lg.float().cpu())
    return torch.cat(feats), torch.cat(logits)


@torch.no_grad()
def generate_uint8(gen, n: int, seed: int = 0, batch: int = 500) -> torch.Tensor:
    """``n`` samples of an ``api.Generator`` as uint8 (seeded: the same call gives the same images)."""
    z = gen.latents(n, seed)
    labels = gen.labels(n, None, seed)
    out = []
    for i in range(0, n, batch):
        lab = None if labels is None else labels[i : i + batch]
        out.append(to_uint8(gen.recipe.sample(gen.G, z[i : i + batch], lab, batch=batch)).cpu())
    return torch.cat(out)


def _ref_key(ref: ImageSet, split: str, ex: Extractor) -> tuple[str, dict]:
    ident = {
        "fingerprint": ref.fingerprint(),
        "n": len(ref),
        "shape": list(ref.shape),
        "split": split,
        "extractor": ex.name,
        "sha256": ex.sha256,
        "input_size": ex.input_size,
        "resizer": ex.resizer,
    }
    h = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
    slug = ex.name.replace(":", "-").replace("/", "-")
    return f"{dataset_key(ref.name)}-{split}-{ref.shape[-1]}px-{slug}-n{len(ref)}-{h}", ident


def reference_features(
    ref: ImageSet, split: str, extractor: Extractor, batch: int = 250, cache: bool = True
) -> tuple[torch.Tensor, bool]:
    """Features of the reference images, from the cache when this exact (data, split, extractor, size) was seen."""
    from safetensors.torch import load_file, save_file

    key, ident = _ref_key(ref, split, extractor)
    d = cache_dir() / "refstats"
    path = d / f"{key}.safetensors"
    if cache and path.is_file():
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            if meta.get("ident") == ident:
                return load_file(str(path))["features"], True
        except Exception:
            pass  # a broken cache entry is recomputed
    feats, _ = extract(extractor, ref.images, batch)
    if cache:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.tmp{os.getpid()}"
        save_file({"features": feats.contiguous()}, str(tmp))
        os.replace(tmp, path)
        write_text_atomic(path.with_suffix(".json"), json.dumps({"ident": ident, "created": time.time()}, indent=1))
    return feats, False


# --------------------------------------------------------------------------- scores


def score(
    real: torch.Tensor,
    fake: torch.Tensor,
    fake_logits: torch.Tensor | None,
    metrics=METRICS,
    seed: int = 0,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    is_splits: int = 10,
    pr_k: int = 3,
) -> dict:
    """The requested scores from feature matrices (and the fake side's logits, for IS)."""
    out: dict = {}
    if "fid" in metrics:
        out["fid"] = core.fid(real, fake)
    if "kid" in metrics:
        out["kid"], out["kid_std"] = core.kid(real, fake, kid_subsets, kid_subset_size, seed)
    if "is" in metrics:
        if fake_logits is None:
            raise GankitError("IS needs class logits from the extractor")
        out["is"], out["is_std"] = core.inception_score(fake_logits, min(is_splits, len(fake_logits)), seed=seed)
    if "pr" in metrics:
        out["precision"], out["recall"] = core.precision_recall(real, fake, pr_k)
    return out


def versions() -> dict:
    v = {"gankit": gankit_version(), "torch": torch.__version__}
    try:
        import torch_fidelity

        v["torch_fidelity"] = torch_fidelity.__version__
    except ImportError:
        v["torch_fidelity"] = None
    return v


def make_card(
    extractor: Extractor,
    ref: ImageSet,
    split: str,
    n_real: int,
    n_fake: int,
    fake_info: dict,
    fake_shape,
    seed: int,
    options: dict,
    metrics,
) -> dict:
    card = {
        "protocol": PROTOCOL,
        "metrics": list(metrics),
        "extractor": extractor.card(),
        "image_size": list(ref.shape),
        "fake_image_size": list(fake_shape),
        "quantised": "uint8 before feature extraction (as a saved PNG)",
        "n_real": n_real,
        "n_fake": n_fake,
        "reference": {"dataset": ref.name, "split": split, "fingerprint": ref.fingerprint(), "source": str(ref.source)},
        "fake": fake_info,
        "seed": seed,
        "options": options,
        **versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if min(n_real, n_fake) < extractor.feature_dim and "fid" in metrics:
        card["warning"] = (
            f"N ({min(n_real, n_fake)}) is below the feature dimension ({extractor.feature_dim}): "
            "the covariance is rank-deficient and FID is unreliable; prefer KID"
        )
    return card


# --------------------------------------------------------------------------- sources


def load_reference(
    ref, like: DataConfig | None, split: str | None, n_ref: int | None, size: int | None = None
) -> tuple[ImageSet, str]:
    """The reference ImageSet: a dataset name / folder / path, shaped like the training data of a checkpoint."""
    from ..data import load

    if isinstance(ref, ImageSet):
        return ref, split or "given"
    if ref is None:
        if like is None:
            raise GankitError("name the reference data with --ref DATASET|DIR (or --real DIR)")
        name = like.name
    else:
        name = str(ref)
        if (
            name not in ("fashion-mnist", "mnist", "cifar10", "twemoji")
            and ":" not in name
            and Path(name).expanduser().is_dir()
        ):
            from ..data import _detect

            if _detect(Path(name).expanduser()) == "folder":
                name = f"folder:{name}"
    split = split or default_split(name)
    cfg = DataConfig(
        name=name,
        split=split,
        limit=n_ref,
        size=size or (like.size if like else None),
        channels=like.channels if like else None,
        background=like.background if like else "white",
    )
    return load(cfg), split
