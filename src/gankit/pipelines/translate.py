"""Image -> image: one direction of a trained pix2pix or CycleGAN model, applied to images of any size.

Sizes (``fit``):

- ``scale`` (default): the image is padded to a square with the model's background colour, scaled to the size the
  model was trained at, translated, scaled back and cropped, so the output has the input's width and height (and
  the model sees objects at the scale it learned);
- ``native``: the networks are fully convolutional, so the image is translated at its own resolution, reflect-padded
  up to the next multiple the generator needs (2^downs for a U-Net, 4 for a ResNet generator) and cropped back.

Greyscale, palette and 16-bit files are converted; transparent pixels are composited on the model's background
colour (``data.background`` of the run), as the training images were. ``test_grid`` gives rows of input | output |
target from the run's held-out split; ``evaluate`` scores a model (or the identity) on that split
(``gankit translate-eval``).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ..data.images import open_rgb, parse_colour, to_float, to_tensor_u8, to_uint8
from ..data.pairs import load_pairs
from ..errors import GankitError
from ..metrics import extract, fid, psnr, ssim
from ..metrics.extractors import auto_spec, load_extractor
from ..train.fast import check_precision, fast_sampler
from .base import IMAGES, Exportable, Pipeline

DIRECTIONS = ("AtoB", "BtoA")


class TranslatePipeline(Pipeline):
    """One direction of a trained translation model: ``pipe(x)`` on batches, ``translate_image`` on pictures."""

    modality = "translate"
    command = "gankit translate CKPT INPUT... --out DIR"
    options = ("direction", "precision")

    def __init__(
        self, recipe, nets: dict, direction: str, checkpoint=None, precision: str = "fp32", ema: tuple[str, ...] = ()
    ):
        """``nets``: the recipe's generators by name (``G`` runs the trained direction, a CycleGAN's ``F`` the
        other); ``precision`` auto/bf16/fp16 runs the net through the inference fast path (autocast,
        channels-last), fp32 (for scores) as trained."""
        check_precision(precision)
        cfg = recipe.cfg
        trained = cfg.data.direction
        if direction not in DIRECTIONS:
            raise GankitError(f"--direction must be AtoB or BtoA, got '{direction}'")
        name = "G" if direction == trained else "F"
        if name not in nets:
            raise GankitError(
                f"this {cfg.recipe} model was trained {trained} and translates that way only (--direction {trained})"
            )
        self.recipe, self.nets, self.direction, self.checkpoint = recipe, nets, direction, checkpoint
        self.precision, self.ema_names = precision, ema
        self.net = nets[name].eval()
        self.ema = name in ema
        self.size, self.channels = recipe.shape[1], recipe.shape[0]
        self.background, self.stride = cfg.data.background, self.net.stride
        self.run = None if precision == "fp32" else fast_sampler(self.net, recipe.device, precision)

    @classmethod
    def from_loaded(cls, loaded, direction: str | None = None, precision: str = "fp32"):
        """``direction`` default: the one the model was trained in (a CycleGAN also runs the other way)."""
        check_precision(precision)
        nets = {n: loaded.nets[n] for n in ("G", "F") if n in loaded.nets}
        return cls(
            loaded.recipe, nets, direction or loaded.recipe.cfg.data.direction, loaded.checkpoint, precision, loaded.ema
        )

    @property
    def directions(self) -> list[str]:
        """The directions this model runs: the trained one first."""
        trained = self.recipe.cfg.data.direction
        return [trained] + [d for d in DIRECTIONS if d != trained and "F" in self.nets]

    def toward(self, direction: str) -> "TranslatePipeline":
        """The same model run in ``direction`` (no second read of the checkpoint)."""
        return TranslatePipeline(self.recipe, self.nets, direction, self.checkpoint, self.precision, self.ema_names)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """float [-1, 1] N x C x H x W (H, W multiples of ``stride``) -> translated images."""
        return (self.run or self.net)(x.to(self.device)).float()

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
            bg = torch.tensor(parse_colour(self.background), dtype=torch.float32, device=x.device) / 127.5 - 1
            bg = bg[:c] if c == 3 else bg.mean().reshape(1)
            canvas = bg.view(1, c, 1, 1).expand(1, c, s, s).clone()
            top, left = (s - h) // 2, (s - w) // 2
            canvas[:, :, top : top + h, left : left + w] = x
        else:
            canvas, top, left = x, 0, 0
        small = F.interpolate(
            canvas, size=(self.size, self.size), mode="bicubic", align_corners=False, antialias=s > self.size
        ).clamp(-1, 1)
        y = self(small)
        big = F.interpolate(y, size=(s, s), mode="bicubic", align_corners=False, antialias=s < self.size)
        return big[0, :, top : top + h, left : left + w].clamp(-1, 1).cpu()

    def translate_image(self, im: Image.Image, fit: str = "scale") -> Image.Image:
        """A picture in memory -> the translated picture (transparency composited on the run's background colour;
        a greyscale model sees it grey)."""
        if im.mode != "RGB":
            canvas = Image.new("RGBA", im.size, parse_colour(self.background) + (255,))
            im = Image.alpha_composite(canvas, im.convert("RGBA")).convert("RGB")
        if self.channels == 1:
            im = im.convert("L")
        y = self.translate_tensor(to_float(to_tensor_u8(im)), fit)
        arr = to_uint8(y).permute(1, 2, 0).numpy()
        return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)

    def translate_file(self, path: Path, fit: str = "scale") -> Image.Image:
        """An image file of any mode (16-bit, palette, alpha ...) -> the translated picture."""
        return self.translate_image(open_rgb(path, self.background), fit)

    def test_grid(self, n: int = 16, cols: int = 8) -> torch.Tensor:
        """Rows of input | output | target for the first ``n`` held-out pairs of the run's data."""
        cfg = self.recipe.cfg
        data = load_pairs(cfg.data, paired=False)
        held = data.test
        if held is None:
            raise GankitError(f"data '{cfg.data.name}' has no held-out split (test/ or testA/testB)")
        if self.direction != cfg.data.direction:
            held = type(held)(held.B, held.A, held.paired, held.size, held.name, held.source)
        k = min(n, len(held.A))
        b = held.batch(torch.arange(k))
        x, y = b["A"], b["B"]
        out = torch.cat([self(x[i : i + 64]) for i in range(0, k, 64)]).cpu()
        rows = []
        for i in range(0, k, cols):
            for r in (x, out, y):
                r = r[i : i + cols]
                if r.shape[0] < cols:
                    r = torch.cat([r, torch.ones(cols - r.shape[0], *r.shape[1:])])
                rows.append(r)
        return torch.cat(rows)

    def exportable(self, batch: int = 2) -> Exportable:
        """The generator of this direction; height and width are dynamic (fully convolutional)."""
        C, S = self.channels, self.size
        x = torch.rand(batch, C, S, S, generator=torch.Generator().manual_seed(0)) * 2 - 1
        return Exportable(
            self.net.eval(),
            (x,),
            [
                {
                    "name": "image",
                    "shape": ["batch", C, "height", "width"],
                    **IMAGES,
                    "note": f"height and width multiples of {self.stride}; trained at {S} x {S}",
                }
            ],
            [{"name": "translated", "shape": ["batch", C, "height", "width"], **IMAGES}],
            {"image": {0: "batch", 2: "height", 3: "width"}, "translated": {0: "batch", 2: "height", 3: "width"}},
            self.export_meta(direction=self.direction, background=self.background),
        )


# --------------------------------------------------------------------------- evaluation on the held-out split


@torch.no_grad()
def evaluate(
    tr: "TranslatePipeline | None",
    data_cfg,
    extractor: str | None = "auto",
    batch: int = 64,
    direction: str | None = None,
) -> dict:
    """PSNR, SSIM (RGB, on [0, 1]) and FID of translated held-out inputs against their real targets.

    ``tr`` None scores the identity mapping (the input itself as the output): the baseline. The direction is
    ``tr``'s (a CycleGAN pipeline ``toward("BtoA")`` is scored on B inputs against A targets); ``direction`` sets it
    for the identity (default: ``data_cfg.direction``). FID uses ``gankit.metrics`` features (``extractor``:
    ``domain:<dataset>``, ``inception``; ``auto``: the Twemoji domain network if it is trained, else Inception if its
    weights are present; None: skip FID)."""
    held = load_pairs(data_cfg, paired=False).test
    if held is None or not held.paired:
        raise GankitError(f"data '{data_cfg.name}' has no paired held-out split to score against")
    b = held.batch(torch.arange(len(held.A)))
    direction = tr.direction if tr is not None else direction or data_cfg.direction
    x, y = (b["A"], b["B"]) if direction == data_cfg.direction else (b["B"], b["A"])
    out = x if tr is None else torch.cat([tr(x[i : i + batch]).cpu() for i in range(0, x.shape[0], batch)])
    res = {
        "n": int(x.shape[0]),
        "psnr": psnr(out, y, y=False),
        "ssim": ssim(out, y, y=False),
        "l1": (out.clamp(-1, 1) - y).abs().mean().item(),
    }
    if extractor is not None:
        spec = auto_spec("twemoji") if extractor == "auto" else extractor
        ex = load_extractor(spec)
        f_real, _ = extract(ex, to_uint8(y))
        f_fake, _ = extract(ex, to_uint8(out))
        res["fid"] = fid(f_real, f_fake)
        res["extractor"] = ex.card()["name"]
    return res
