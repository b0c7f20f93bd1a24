"""Apply a pix2pix or CycleGAN checkpoint to image files or folders of any size (``gankit translate``).

Sizes (``--fit``):

- ``scale`` (default): the image is padded to a square with the model's background colour, scaled to the size the
  model was trained at, translated, scaled back and cropped, so the output has the input's width and height (and
  the model sees objects at the scale it learned);
- ``native``: the networks are fully convolutional, so the image is translated at its own resolution, reflect-padded
  up to the next multiple the generator needs (2^downs for a U-Net, 4 for a ResNet generator) and cropped back.

Greyscale, palette and 16-bit files are converted; transparent pixels are composited on the model's background
colour (``data.background`` of the run), as the training images were. Outputs are PNGs named like the inputs
(folders keep their sub-folders). ``--test-grid N`` writes rows of input | output | target from the run's held-out
split instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F
from PIL import Image

from .errors import GankitError


@dataclass
class Translator:
    """One direction of a trained translation model, ready to apply to images."""

    recipe: object
    net: torch.nn.Module
    direction: str
    size: int
    channels: int
    background: str
    stride: int

    @property
    def device(self) -> torch.device:
        return self.recipe.device

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """float [-1, 1] N x C x H x W (H, W multiples of ``stride``) -> translated images."""
        return self.net(x.to(self.device)).float()

    @torch.no_grad()
    def translate_tensor(self, x: torch.Tensor, fit: str = "scale") -> torch.Tensor:
        """One image, float [-1, 1] C x H x W of any size -> C x H x W."""
        c, h, w = x.shape
        x = x[None].to(self.device)
        if fit == "native":
            H = max(self.stride, math.ceil(h / self.stride) * self.stride)
            W = max(self.stride, math.ceil(w / self.stride) * self.stride)
            pad = (0, W - w, 0, H - h)
            mode = "reflect" if (W - w) < w and (H - h) < h else "replicate"
            y = self(F.pad(x, pad, mode=mode) if any(pad) else x)
            return y[0, :, :h, :w].cpu()
        if fit != "scale":
            raise GankitError(f"--fit must be scale or native, got '{fit}'")
        s = max(h, w)
        if s != h or s != w:  # letterbox with the background colour
            from .data.images import parse_colour

            bg = torch.tensor(parse_colour(self.background), dtype=torch.float32, device=x.device) / 127.5 - 1
            bg = bg[:c] if c == 3 else bg.mean().reshape(1)
            canvas = bg.view(1, c, 1, 1).expand(1, c, s, s).clone()
            top, left = (s - h) // 2, (s - w) // 2
            canvas[:, :, top: top + h, left: left + w] = x
        else:
            canvas, top, left = x, 0, 0
        small = F.interpolate(canvas, size=(self.size, self.size), mode="bicubic", align_corners=False,
                              antialias=s > self.size).clamp(-1, 1)
        y = self(small)
        big = F.interpolate(y, size=(s, s), mode="bicubic", align_corners=False, antialias=s < self.size)
        return big[0, :, top: top + h, left: left + w].clamp(-1, 1).cpu()


def load_translator(ckpt_path, direction: str | None = None, device: str = "cpu") -> Translator:
    """The generator of a pix2pix / CycleGAN checkpoint for ``direction`` (default: the direction it was trained in;
    a CycleGAN also runs the other way with its second generator)."""
    from . import config as C
    from .models import recipe_class
    from .models.pix2pix import TranslationRecipe
    from .train import checkpoint as ckpt

    c = ckpt.load(ckpt_path)
    cfg = C.from_dict(c.config)
    cls = recipe_class(cfg.recipe)
    if not issubclass(cls, TranslationRecipe):
        raise GankitError(f"{c.path}: a {cfg.recipe} checkpoint, not an image-to-image model (pix2pix, cyclegan)")
    shape = tuple(c.state.get("data_info", {}).get("shape") or ())
    if len(shape) != 3:
        raise GankitError(f"{c.path}: checkpoint does not record the image shape")
    recipe = cls(cfg, shape, 0, device)
    for n, net in recipe.networks().items():
        net.load_state_dict(c.net(f"net.{n}"))
    trained = cfg.data.direction
    direction = direction or trained
    if direction not in ("AtoB", "BtoA"):
        raise GankitError(f"--direction must be AtoB or BtoA, got '{direction}'")
    if direction == trained:
        net = recipe.G
    elif "F" in recipe.nets:
        net = recipe.F
    else:
        raise GankitError(f"this {cfg.recipe} model was trained {trained} and translates that way only "
                          f"(--direction {trained})")
    net.eval()
    return Translator(recipe, net, direction, shape[1], shape[0], cfg.data.background, net.stride)


def _inputs(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(file, output-relative path) for every image file named or found in a named folder."""
    from .data.images import IMAGE_SUFFIXES

    out = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise GankitError(f"{p}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out += [(f, f.relative_to(p).with_suffix(".png")) for f in files]
        elif p.is_file():
            out.append((p, Path(p.name).with_suffix(".png")))
        else:
            raise GankitError(f"input not found: {p}")
    return out


def translate_file(tr: Translator, path: Path, fit: str = "scale") -> Image.Image:
    from .data.images import open_rgb, to_float, to_tensor_u8, to_uint8

    im = open_rgb(path, tr.background)
    if tr.channels == 1:
        im = im.convert("L")
    y = tr.translate_tensor(to_float(to_tensor_u8(im)), fit)
    arr = to_uint8(y).permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def test_grid(tr: Translator, n: int = 16, cols: int = 8) -> torch.Tensor:
    """Rows of input | output | target for the first ``n`` held-out pairs of the run's data."""
    from .data.pairs import load_pairs

    cfg = tr.recipe.cfg
    data = load_pairs(cfg.data, paired=False)
    held = data.test
    if held is None:
        raise GankitError(f"data '{cfg.data.name}' has no held-out split (test/ or testA/testB)")
    if tr.direction != cfg.data.direction:
        held = type(held)(held.B, held.A, held.paired, held.size, held.name, held.source)
    k = min(n, len(held.A))
    b = held.batch(torch.arange(k))
    x, y = b["A"], b["B"]
    out = torch.cat([tr(x[i: i + 64]) for i in range(0, k, 64)]).cpu()
    rows = []
    for i in range(0, k, cols):
        for r in (x, out, y):
            r = r[i: i + cols]
            if r.shape[0] < cols:
                r = torch.cat([r, torch.ones(cols - r.shape[0], *r.shape[1:])])
            rows.append(r)
    return torch.cat(rows)


# --------------------------------------------------------------------------- evaluation on the held-out split


@torch.no_grad()
def evaluate(tr: "Translator | None", data_cfg, extractor: str | None = "auto", batch: int = 64) -> dict:
    """PSNR, SSIM (RGB, on [0, 1]) and FID of translated held-out inputs against their real targets.

    ``tr`` None scores the identity mapping (the input itself as the output): the baseline. FID uses
    ``gankit.metrics`` features (``extractor``: ``domain:<dataset>``, ``inception``; ``auto``: the Twemoji domain
    network if it is trained, else Inception if its weights are present; None: skip FID)."""
    from .data.images import to_uint8
    from .data.pairs import load_pairs
    from .metrics import extract, fid, psnr, ssim
    from .metrics.extractors import auto_spec, load_extractor

    held = load_pairs(data_cfg, paired=False).test
    if held is None or not held.paired:
        raise GankitError(f"data '{data_cfg.name}' has no paired held-out split to score against")
    b = held.batch(torch.arange(len(held.A)))
    x, y = b["A"], b["B"]
    out = x if tr is None else torch.cat([tr(x[i: i + batch]).cpu() for i in range(0, x.shape[0], batch)])
    res = {"n": int(x.shape[0]), "psnr": psnr(out, y, y=False), "ssim": ssim(out, y, y=False),
           "l1": (out.clamp(-1, 1) - y).abs().mean().item()}
    if extractor is not None:
        spec = auto_spec("twemoji") if extractor == "auto" else extractor
        ex = load_extractor(spec)
        f_real, _ = extract(ex, to_uint8(y))
        f_fake, _ = extract(ex, to_uint8(out))
        res["fid"] = fid(f_real, f_fake)
        res["extractor"] = ex.card()["name"]
    return res


def main(argv: list[str] | None = None) -> int:
    """``python -m gankit.translate RUN... [--extractor SPEC]``: the held-out table (identity baseline first)."""
    import argparse
    import json

    from . import config as C
    from .train import checkpoint as ckpt

    ap = argparse.ArgumentParser(prog="python -m gankit.translate", description=main.__doc__)
    ap.add_argument("runs", nargs="+", type=Path, help="pix2pix / cyclegan run dirs or checkpoints")
    ap.add_argument("--extractor", default="auto", help="FID features: domain:twemoji, inception, none")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    a = ap.parse_args(argv)
    ext = None if a.extractor == "none" else a.extractor
    first = C.from_dict(ckpt.load(a.runs[0]).config)
    rows = [{"model": "identity (input as output)", **evaluate(None, first.data, ext)}]
    for run in a.runs:
        tr = load_translator(run)
        c = tr.recipe.cfg
        if (c.data.name, c.data.direction, c.data.size) != (first.data.name, first.data.direction, first.data.size):
            raise GankitError(f"{run}: trained on {c.data.name} {c.data.direction} at {c.data.size} px, unlike "
                              f"{a.runs[0]}: the rows would not share a test set")
        step = ckpt.load(run).step
        rows.append({"model": f"{c.recipe} ({c.preset}, step {step})", **evaluate(tr, c.data, ext)})
    print("| model | PSNR (dB) | SSIM | L1 | FID |")
    print("|---|---|---|---|---|")
    for r in rows:
        fid_s = f"{r['fid']:.2f}" if "fid" in r else "—"
        print(f"| {r['model']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['l1']:.4f} | {fid_s} |")
    print(f"\n{rows[0]['n']} held-out pairs; FID features: {rows[0].get('extractor', 'none')}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    import sys

    try:
        sys.exit(main())
    except GankitError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
