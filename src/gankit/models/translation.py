"""What the image-to-image families (pix2pix, CycleGAN) share: two-domain data, a held-out grid of
input | output | target, the held-out L1 report, and the linear LR decay of the second half of a run."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..viz.grid import pad_rows
from .base import Recipe

Norm = Literal["batch", "instance", "instance_affine", "none"]


def lr_factor(step: int, total: int | None, start: float) -> float:
    """Linear decay to 0 over the part of the run after ``start`` (a fraction); 1 before it or without a budget."""
    if total is None or start >= 1.0:
        return 1.0
    begin = int(total * start)
    return 1.0 - max(0, step - begin) / max(1, total - begin + 1)


class TranslationRecipe(Recipe):
    """What pix2pix and CycleGAN share: two-domain data, a held-out grid of input | output | target, L1 report."""

    modality = "translate"
    ema_nets = ()
    paired_data = True

    @property
    def latent_dim(self) -> int:
        return 0

    @classmethod
    def load_data(cls, cfg):
        from ..data.pairs import load_pairs

        return load_pairs(cfg.data, paired=cls.paired_data)

    @classmethod
    def check_size(cls, cfg, stride: int, what: str) -> None:
        s = cfg.data.size
        if s is not None and s % stride:
            raise ConfigError(
                f"{cls.name}: data.size={s} must be a multiple of {stride} ({what}); "
                f"try data.size={max(stride, round(s / stride) * stride)}"
            )

    def _check_shape(self, stride: int, what: str) -> None:
        if self.shape[1] % stride or self.shape[2] % stride:
            raise ConfigError(
                f"{self.name}: images are {self.shape[1]}x{self.shape[2]}, not a multiple of {stride} "
                f"({what}); set data.size"
            )

    def translators(self, nets: dict) -> list[tuple[nn.Module, str, str]]:
        """(generator, input key, target key) pairs shown in the grid."""
        return [(nets["G"], "A", "B")]

    def fixed_inputs(self, data, n, generator):
        held = data.test if getattr(data, "test", None) is not None else data
        cols = self.cfg.train.grid
        k = min(len(held.A), cols * max(1, cols // (4 * len(self.translators(self.networks())))))
        out = {"A": held.batch(torch.arange(k))["A"].to(self.device)}
        if held.paired:
            out["B"] = held.batch(torch.arange(k))["B"].to(self.device)
        else:
            out["B"] = (held.B[torch.arange(k) % held.B.shape[0]].float() / 127.5 - 1).to(self.device)
        out["paired"] = torch.tensor([held.paired], device=self.device)
        return out

    @torch.no_grad()
    def translate(self, G: nn.Module, x: torch.Tensor, batch: int = 64) -> torch.Tensor:
        was = G.training
        G.eval()
        try:
            return torch.cat([G(x[i : i + batch]).float() for i in range(0, x.shape[0], batch)])
        finally:
            G.train(was)

    def visualize(self, nets, fixed):
        """Rows of input | output | target (CycleGAN: both directions), ``grid`` images per row."""
        cols = self.cfg.train.grid
        rows = []
        for G, src, dst in self.translators(nets):
            x, y = fixed[src], fixed[dst]
            out = self.translate(G, x)
            for i in range(0, x.shape[0], cols):
                rows += [x[i : i + cols], out[i : i + cols], y[i : i + cols]]
        return pad_rows(rows, cols), cols

    @torch.no_grad()
    def epoch_report(self, data, step):
        """Mean L1 of G(input) to the target on up to 128 held-out pairs."""
        held = data.test if getattr(data, "test", None) is not None else None
        if held is None or not held.paired:
            return {}
        b = held.batch(torch.arange(min(128, len(held.A))), self.device)
        G, _, _ = self.translators(self.networks())[0]
        return {"eval/L1_test": F.l1_loss(self.translate(G, b["A"]), b["B"]).item()}
