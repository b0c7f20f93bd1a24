"""Periodic evaluation during training (``train.eval_every``): a cheap FID/KID every K steps, logged as ``eval/*``,
and the ``best`` checkpoint chosen by FID. Uses its own seeded generator: evaluating never changes training."""

from __future__ import annotations

import time

import torch

from ..config import Config
from ..data import ImageSet
from ..data.images import to_uint8
from ..errors import ConfigError, GankitError
from .engine import extract, load_reference, make_card, reference_features, score
from .extractors import auto_spec, load_extractor


class PeriodicEval:
    def __init__(self, cfg: Config, data, device):
        t = cfg.train
        if not isinstance(data, ImageSet):
            raise ConfigError(
                f"train.eval_every: periodic FID is available for image-generation recipes only "
                f"({cfg.recipe} trains on {type(data).__name__})"
            )
        if t.eval_n < 2:
            raise ConfigError(f"train.eval_n must be at least 2, got {t.eval_n}")
        try:
            spec = auto_spec(cfg.data.name) if t.eval_extractor == "auto" else t.eval_extractor
            self.extractor = load_extractor(spec, device, channels=data.shape[0], size=data.shape[-1])
        except GankitError as e:
            raise ConfigError(f"train.eval_every: {e}") from None
        self.cfg, self.n, self.seed = cfg, t.eval_n, t.seed
        self.ref, self.split = load_reference(None, cfg.data, None, cfg.data.limit)
        self.real = None
        self.kid_subsets = 20  # cheaper than the 100 of a final evaluation; recorded in the card

    @torch.no_grad()
    def samples(self, trainer) -> torch.Tensor:
        r = trainer.recipe
        G = trainer.sampling_nets()["G"]
        g = torch.Generator(r.device).manual_seed(self.seed * 1_000_003 + 424242)
        z = r.latent(self.n, g)
        labels = torch.arange(self.n, device=r.device) % r.num_classes if r.conditional else None
        return to_uint8(r.sample(G, z, labels)).cpu()

    def run(self, trainer) -> bool:
        """Score the current sampling generator, log an ``eval/*`` row, record ``trainer.best``; True when FID
        improved (the Trainer then saves a checkpoint that ``checkpoints/best`` points at)."""
        t0 = time.time()
        if self.real is None:
            self.real, _ = reference_features(self.ref, self.split, self.extractor)
        feats, logits = extract(self.extractor, self.samples(trainer))
        s = score(self.real, feats, logits, ("fid", "kid"), self.seed, self.kid_subsets)
        options = {
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": min(1000, len(self.real), self.n),
            "is_splits": None,
            "pr_k": None,
        }
        card = make_card(
            self.extractor,
            self.ref,
            self.split,
            len(self.real),
            self.n,
            {"kind": "training", "step": trainer.step, "ema": bool(trainer.ema)},
            self.ref.shape,
            self.seed,
            options,
            ("fid", "kid"),
        )
        row = {
            "step": trainer.step,
            "eval/fid": s["fid"],
            "eval/kid": s["kid"],
            "perf/eval_seconds": round(time.time() - t0, 2),
            "eval_card": card,
        }
        best = trainer.best
        improved = best is None or best.get("fid") is None or s["fid"] < best["fid"]
        if improved:
            trainer.best = {
                "step": trainer.step,
                "fid": s["fid"],
                "kid": s["kid"],
                "n": self.n,
                "extractor": self.extractor.name,
                "name": f"step-{trainer.step:07d}",
            }
        row["eval/best_fid"] = trainer.best["fid"]
        trainer.log(row)
        return improved
