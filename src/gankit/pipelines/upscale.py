"""x4 upscaling (srgan): enlarge images of any size and mode with a trained super-resolution generator.

Large images go through G in overlapping tiles blended with linear ramps; an alpha channel is enlarged separately
(bicubic) and put back; greyscale images go through G as grey RGB and come back greyscale; 16-bit, palette and
CMYK images are converted to 8-bit RGB(A) first.

>>> from gankit.pipelines import UpscalePipeline
>>> pipe = UpscalePipeline.from_checkpoint("runs/00007-srgan-openmoji128")
>>> big = pipe.upscale_image(PIL.Image.open("photo.png"))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import nn

from ..data.images import to_float, to_tensor_u8, to_uint8
from ..data.sr import bicubic_up
from ..errors import GankitError
from ..train.fast import check_precision, fast_sampler
from ..viz.grid import save_images, save_png
from .base import IMAGES, Exportable, Pipeline


class UpscalePipeline(Pipeline):
    """A trained super-resolution generator: ``pipe(lr) -> sr`` in [-1, 1] (``scale`` x larger); needs neither VGG,
    D nor ``init_from``."""

    modality = "upscale"
    command = "gankit upscale CKPT INPUT... --out DIR"
    options = ("precision",)

    def __init__(self, G: nn.Module, opts, checkpoint=None, ema: bool = False, precision: str = "fp32", recipe=None):
        """``precision`` auto/bf16/fp16 runs G through the inference fast path (autocast, channels-last); fp32 (the
        default, for scores) runs it as trained."""
        check_precision(precision)
        self.G, self.opts, self.checkpoint, self.ema, self.recipe = G.eval(), opts, checkpoint, ema, recipe
        self.scale = opts.scale
        dev = next(G.parameters()).device
        self.run = G if precision == "fp32" else fast_sampler(G, dev, precision)

    @classmethod
    def from_loaded(cls, loaded, precision: str = "fp32"):
        check_precision(precision)
        r = loaded.recipe
        return cls(loaded.nets["G"], r.opts, loaded.checkpoint, "G" in loaded.ema, precision, r)

    @property
    def device(self) -> torch.device:
        return next(self.G.parameters()).device

    @torch.no_grad()
    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return self.run(lr).float()

    def upscale_image(self, im: Image.Image, tile: int | None = 128, overlap: int = 16) -> Image.Image:
        """A PIL image of any mode -> the x``scale`` PIL image in the matching mode (L, LA, RGB or RGBA)."""
        s = self.scale
        mode = im.mode
        if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            arr = np.asarray(im, dtype=np.float64)
            hi = 65535.0 if arr.max() > 255 else 255.0
            im = Image.fromarray((arr / hi * 255).round().clip(0, 255).astype(np.uint8), "L")
        grey = im.mode in ("1", "L", "LA") or (im.mode == "P" and _grey_palette(im))
        has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
        rgba = im.convert("RGBA")
        t = to_tensor_u8(rgba)
        rgb, alpha = to_float(t[None, :3]), t[None, 3:4]
        if has_alpha:
            rgb = _fill_transparent(rgb, alpha.float())
        channels = self.G.tail.out_channels if hasattr(self.G, "tail") else 3
        x = rgb.to(self.device)
        if channels == 1:
            x = _luma(x)
        sr = upscale_tensor(self, x, s, tile, overlap)
        if channels == 1:
            sr = sr.expand(-1, 3, -1, -1)
        out = to_uint8(sr[0].cpu())
        if grey:
            g = _luma(to_float(out[None]))[0]
            out = to_uint8(g)
        if has_alpha:
            a = Image.fromarray(alpha[0, 0].numpy(), "L").resize(
                (im.width * s, im.height * s), Image.Resampling.BICUBIC
            )
            a = torch.from_numpy(np.asarray(a).copy())[None]
            out = torch.cat([out, a])
        arr = out.permute(1, 2, 0).numpy()
        return Image.fromarray(
            arr[:, :, 0] if arr.shape[2] == 1 else arr, {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
        )

    def upscale_file(self, src: Path, dest: Path, tile: int | None = 128, overlap: int = 16) -> Image.Image:
        """Enlarge the image file ``src`` into the PNG ``dest`` (written atomically); returns the enlarged image."""
        try:
            with Image.open(src) as im:
                im.load()
                res = self.upscale_image(im, tile, overlap)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            why = str(e).splitlines()[0] if str(e) else "corrupt"
            raise GankitError(f"{src}: unreadable image ({type(e).__name__}: {why})") from None
        save_png(res, dest)
        return res

    def exportable(self, batch: int = 2) -> Exportable:
        """G, fully convolutional: height and width are dynamic."""
        C = self.shape[0]
        s = self.scale
        x = torch.rand(batch, C, 24, 24, generator=torch.Generator().manual_seed(0)) * 2 - 1
        return Exportable(
            self.G.eval(),
            (x,),
            [{"name": "lr", "shape": ["batch", C, "height", "width"], **IMAGES}],
            [{"name": "sr", "shape": ["batch", C, f"{s}*height", f"{s}*width"], **IMAGES}],
            {"lr": {0: "batch", 2: "height", 3: "width"}, "sr": {0: "batch", 2: "out_height", 3: "out_width"}},
            self.export_meta(scale=s),
        )


# --------------------------------------------------------------------------- tiling


def _starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    step = tile - overlap
    s = list(range(0, n - tile, step))
    return s + [n - tile]


def _ramp(length: int, lo_edge: bool, hi_edge: bool, ramp: int) -> torch.Tensor:
    """1-D blending weight: rises linearly over ``ramp`` px at an inner tile edge, flat (1) at an image edge."""
    i = torch.arange(length, dtype=torch.float32) + 0.5
    w = torch.ones(length)
    if ramp > 0:
        if not lo_edge:
            w = torch.minimum(w, i / ramp)
        if not hi_edge:
            w = torch.minimum(w, (length - i) / ramp)
    return w.clamp_min(1e-4)


@torch.no_grad()
def upscale_tensor(G, lr: torch.Tensor, scale: int, tile: int | None = 128, overlap: int = 16) -> torch.Tensor:
    """SR of ``lr`` (1 x C x h x w in [-1, 1]); tiles of ``tile`` LR px overlapping by ``overlap`` px when the
    image is larger than one tile (``tile=None`` or 0: whole image at once)."""
    _, c, h, w = lr.shape
    if not tile or (h <= tile and w <= tile):
        return G(lr).float()
    if overlap * 2 > tile:
        raise GankitError(f"--overlap {overlap} must be at most half of --tile {tile}")
    th, tw = min(tile, h), min(tile, w)
    out = torch.zeros(1, c, h * scale, w * scale, device=lr.device)
    norm = torch.zeros(1, 1, h * scale, w * scale, device=lr.device)
    ramp = overlap * scale
    for y in _starts(h, th, overlap):
        for x in _starts(w, tw, overlap):
            sr = G(lr[:, :, y : y + th, x : x + tw]).float()
            wy = _ramp(th * scale, y == 0, y + th == h, ramp)
            wx = _ramp(tw * scale, x == 0, x + tw == w, ramp)
            wt = (wy[:, None] * wx[None, :]).to(lr.device)[None, None]
            ys, xs = slice(y * scale, (y + th) * scale), slice(x * scale, (x + tw) * scale)
            out[:, :, ys, xs] += sr * wt
            norm[:, :, ys, xs] += wt
    return out / norm


# --------------------------------------------------------------------------- image modes


def _fill_transparent(rgb: torch.Tensor, alpha: torch.Tensor, rounds: int = 32) -> torch.Tensor:
    """Colour of fully transparent pixels from their visible neighbours (normalised 3x3 averaging, repeated), so
    the enlarged edges of a cut-out do not pick up whatever colour hides under alpha = 0 (often black)."""
    known = (alpha > 0).float()
    if known.all() or not known.any():
        return rgb
    x = rgb * known
    for _ in range(rounds):
        s = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        k = F.avg_pool2d(known, 3, 1, 1, count_include_pad=False)
        grown = (k > 0).float()
        x = torch.where(known.bool(), x, torch.where(grown.bool(), s / k.clamp_min(1e-8), x))
        known = torch.maximum(known, grown)
        if known.all():
            break
    return torch.where(known.bool(), x, torch.ones_like(x))  # unreachable pixels: white


def _luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of float RGB (as PIL's convert('L'))."""
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def _grey_palette(im) -> bool:
    pal = im.getpalette() or []
    trip = [pal[i : i + 3] for i in range(0, len(pal), 3)]
    return bool(trip) and all(r == g == b for r, g, b in trip)


# --------------------------------------------------------------------------- held-out outputs


@torch.no_grad()
def dump_outputs(out: Path, ds, models: list["UpscalePipeline"], n: int, scale: int, device) -> None:
    """The first ``n`` held-out HR images of ``ds`` and every method's outputs as PNG folders: ``out/hr``,
    ``out/bicubic``, ``out/model-K`` (e.g. for ``gankit eval --real DIR/hr --fake DIR/model-1``)."""
    folders = {"hr": [], "bicubic": []}
    folders.update({f"model-{k + 1}": [] for k in range(len(models))})
    for i in range(n):
        hr, lr = ds.heldout_pair(i, device)
        folders["hr"].append(hr)
        folders["bicubic"].append(bicubic_up(lr, scale))
        for k, m in enumerate(models):
            m.G.eval()
            folders[f"model-{k + 1}"].append(m.G(lr).float())
    for name, imgs in folders.items():
        save_images(torch.cat(imgs), out / name, prefix=name)
