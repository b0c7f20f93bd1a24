"""What the studio does with a checkpoint: one panel per pipeline (``gankit.pipelines``), keyed by its modality.

- ``NoisePanel``: noise -> image: a seeded grid, latent sliders along fixed random directions, truncation, class
  picking, interpolation between two seeds.
- ``TranslatePanel``: image -> image (every direction the model runs), as ``gankit translate``.
- ``UpscalePanel``: x4 super-resolution through the same tiled upscaler as ``gankit upscale``.
- ``TextPanel``: caption -> images, and a walk between two captions, as ``gankit text2img``.
- ``VoxelPanel``: noise -> voxel shapes: shaded views, a turntable GIF, OBJ/PLY meshes, as ``gankit voxels``.
- ``AgePanel``: an uploaded face re-aged, as ``gankit age``.

A checkpoint is loaded once through ``pipelines.load`` (its modality picks the pipeline) and shared by all requests;
``PANELS`` maps the modality to its panel. A pipeline of a modality with no panel here is served all the same by
``Panel``: listed, with its run's pictures and scores. The panels only check the web's parameters and lay results
out as pictures: the model's work is the pipeline's. ``Gate`` serialises the work on one model.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import ClassVar

import torch
from PIL import Image

from .. import pipelines
from ..errors import GankitError
from ..viz.grid import grid_image
from .gate import Gate
from .runs import score_cards

N_SLIDERS = 6  # latent sliders on the page: fixed random unit directions per model
MAX_SLIDER = 5.0  # a slider moves the latent by up to this many standard deviations along its direction
MAX_CAPTION = 200  # characters
MESH_FORMATS = ("obj", "ply")


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def upscale_small(im: Image.Image, side: int) -> Image.Image:
    """Nearest-neighbour enlargement so 28 px samples are visible (as the training grids are saved)."""
    k = max(1, 64 // side)
    return im.resize((im.width * k, im.height * k), Image.Resampling.NEAREST) if k > 1 else im


class Panel:
    """One served model: ``info()`` for the model picker, ``gate`` for exclusive use, the run directory. On its
    own (a modality without a panel of its own), the page shows the run's pictures and scores."""

    kind: ClassVar[str] = ""  # the modality (what the page's panel for it is keyed by)

    def __init__(self, ident: str, pipe: pipelines.Pipeline, gate: Gate):
        self.id, self.pipe, self.gate = ident, pipe, gate
        self.checkpoint = pipe.checkpoint
        self.kind = self.kind or pipe.modality

    @property
    def run_dir(self) -> Path:
        return self.checkpoint.run_dir

    def info(self) -> dict:
        s = self.checkpoint.state
        cfg = s["config"]
        best = s.get("best") or None
        cards = score_cards(self.run_dir)
        data = (s.get("data_info") or {}).get("name") or cfg.get("data", {}).get("name") or "?"
        return {
            "id": self.id,
            "kind": self.kind,
            "family": cfg["recipe"],
            "preset": cfg.get("preset"),
            "data": data,
            "data_label": str(data).rstrip("/").split("/")[-1],
            "shape": (s.get("data_info") or {}).get("shape"),
            "step": int(s["step"]),
            "checkpoint": str(self.checkpoint.path),
            "best": best,
            "cards": cards,
        }


# --------------------------------------------------------------------------- noise -> image


class NoisePanel(Panel):
    kind = "noise"

    def __init__(self, ident, pipe, gate):
        super().__init__(ident, pipe, gate)
        self.recipe = pipe.recipe
        g = torch.Generator().manual_seed(20240601)  # the same slider directions every time the model is served
        d = torch.randn(N_SLIDERS, self.recipe.latent_dim, generator=g)
        self.directions = (d / d.norm(dim=1, keepdim=True)).to(self.recipe.device)

    def info(self):
        return {
            **super().info(),
            "latent_dim": self.recipe.latent_dim,
            "sliders": N_SLIDERS,
            "conditional": bool(self.recipe.conditional),
            "classes": self.pipe.classes if self.recipe.conditional else [],
            "ema": self.pipe.ema,
        }

    def latents(self, n: int, seed: int, truncation: float = 1.0, sliders: list[float] | None = None) -> torch.Tensor:
        """``n`` latents of ``seed``, pulled toward the mean (0) by ``truncation`` (1: none), then moved along the
        slider directions."""
        z = self.pipe.latents(n, seed) * truncation
        if sliders:
            s = torch.tensor(sliders, dtype=z.dtype, device=z.device)
            z = z + (s[:, None] * self.directions[: len(sliders)]).sum(0)
        return z

    def _check(self, cls, sliders):
        if sliders is not None:
            if len(sliders) > N_SLIDERS:
                raise GankitError(f"sliders: at most {N_SLIDERS} values")
            if any(not math.isfinite(v) or abs(v) > MAX_SLIDER for v in sliders):
                raise GankitError(f"sliders: each value must be in [-{MAX_SLIDER:g}, {MAX_SLIDER:g}]")
        if cls is not None and not self.recipe.conditional:
            raise GankitError(f"{self.recipe.name} is not class-conditional: leave 'cls' out")

    def sample(
        self,
        seed: int,
        n: int = 16,
        cls: int | None = None,
        truncation: float = 1.0,
        sliders: list[float] | None = None,
    ) -> Image.Image:
        self._check(cls, sliders)
        with self.gate.turn():
            images = self.pipe.sample(n, seed=seed, cls=cls, z=self.latents(n, seed, truncation, sliders))
        return upscale_small(grid_image(images, max(1, round(math.sqrt(n)))), images.shape[-1])

    def interpolate(
        self,
        seed_a: int,
        seed_b: int,
        steps: int = 8,
        cls: int | None = None,
        truncation: float = 1.0,
        mode: str = "slerp",
    ) -> Image.Image:
        self._check(cls, None)
        if cls is None and self.recipe.conditional:
            cls = 0  # one class along the whole strip (the grid's default cycles through the classes)
        a = self.latents(1, seed_a, truncation)
        b = self.latents(1, seed_b, truncation)
        t = torch.linspace(0, 1, steps, device=a.device)[:, None]
        z = pipelines.slerp(a, b, t) if mode == "slerp" else (1 - t) * a + t * b
        with self.gate.turn():
            images = self.pipe.sample(steps, seed=seed_a, cls=cls, z=z)
        return upscale_small(grid_image(images, steps), images.shape[-1])


# --------------------------------------------------------------------------- an uploaded image in, a picture out


class ImagePanel(Panel):
    """An upload goes in, an image of the same picture comes out; ``max_input_pixels`` bounds the work."""

    max_input_pixels: int = 4_000_000

    def apply(self, im: Image.Image, direction: str | None = None) -> Image.Image:
        raise NotImplementedError

    def check_size(self, im: Image.Image) -> None:
        from .uploads import UploadError

        if im.width * im.height > self.max_input_pixels:
            raise UploadError(
                413,
                f"{im.width} x {im.height} = {im.width * im.height:,} pixels is over this "
                f"{self.kind} model's {self.max_input_pixels:,}-pixel input limit",
            )


class TranslatePanel(ImagePanel):
    kind = "translate"

    def __init__(self, ident, pipe, gate):
        super().__init__(ident, pipe, gate)
        self.translators = {d: pipe if d == pipe.direction else pipe.toward(d) for d in pipe.directions}
        self.default = pipe.direction

    def info(self):
        return {**super().info(), "directions": list(self.translators), "max_input_pixels": self.max_input_pixels}

    def apply(self, im, direction=None):
        tr = self.translators.get(direction or self.default)
        if tr is None:
            raise GankitError(f"direction must be one of {', '.join(self.translators)}, got '{direction}'")
        self.check_size(im)
        with self.gate.turn():
            return tr.translate_image(im, "scale")


class UpscalePanel(ImagePanel):
    kind = "upscale"
    max_input_pixels = 512 * 512  # the output has 16x as many pixels

    def info(self):
        return {
            **super().info(),
            "scale": self.pipe.scale,
            "ema": self.pipe.ema,
            "max_input_pixels": self.max_input_pixels,
        }

    def apply(self, im, direction=None):
        if direction:
            raise GankitError("an upscaling model has no direction")
        self.check_size(im)
        with self.gate.turn(), torch.no_grad():
            return self.pipe.upscale_image(im, tile=128, overlap=16)


# --------------------------------------------------------------------------- text -> image


def _caption(text: str | None, name: str = "caption") -> str:
    text = (text or "").strip()
    if not text:
        raise GankitError(f"{name}: type a caption, e.g. 'a red apple'")
    if len(text) > MAX_CAPTION:
        raise GankitError(f"{name}: at most {MAX_CAPTION} characters, got {len(text)}")
    return text


class TextPanel(Panel):
    """Caption -> a grid of ``n`` images (each its own noise from ``seed``); a walk between two captions'
    embeddings (slerp) with the noise held fixed. Any caption works: the run's own text encoder embeds it."""

    kind = "text"

    def info(self):
        o = self.pipe.recipe.opts
        return {
            **super().info(),
            "stage": getattr(o, "stage", None),
            "outputs": list(self.pipe.outputs),
            "text_encoder": getattr(o, "text_encoder", None),
            "ema": self.pipe.ema,
            "max_caption": MAX_CAPTION,
        }

    def _output(self, stage1: bool) -> str:
        if stage1 and "stage1" not in self.pipe.outputs:
            raise GankitError("stage1: only a stage-II model has stage-I images to show")
        return "stage1" if stage1 else "image"

    def generate(self, caption: str, seed: int = 0, n: int = 16, stage1: bool = False) -> Image.Image:
        caption, output = _caption(caption), self._output(stage1)
        with self.gate.turn():
            images = self.pipe([caption], n, seed, output=output)
        return upscale_small(grid_image(images, max(1, round(math.sqrt(n)))), images.shape[-1])

    def interpolate(
        self, caption_a: str, caption_b: str, seed: int = 0, steps: int = 8, stage1: bool = False
    ) -> Image.Image:
        """One row of ``steps`` frames from caption A to caption B (slerp of the embeddings, the same noise)."""
        a, b, output = _caption(caption_a, "caption_a"), _caption(caption_b, "caption_b"), self._output(stage1)
        with self.gate.turn():
            images = self.pipe.walk(a, b, steps, rows=1, seed=seed, output=output)
        return upscale_small(grid_image(images, steps), images.shape[-1])


# --------------------------------------------------------------------------- noise -> voxels


def _level(threshold: float) -> float:
    if not (math.isfinite(threshold) and 0 < threshold < 1):
        raise GankitError(f"threshold must be in (0, 1), got {threshold}")
    return threshold


class VoxelPanel(Panel):
    """Seed (+ class) -> shapes, shown as shaded renders from ``gankit.viz.voxels``: a still strip of views around
    each shape and an animated turntable GIF; any shape as an OBJ/PLY mesh."""

    kind = "voxel"
    max_shapes = 9

    def info(self):
        r = self.pipe.recipe
        return {
            **super().info(),
            "conditional": bool(r.conditional),
            "classes": self.pipe.classes if r.conditional else [],
            "ema": self.pipe.ema,
            "resolution": self.pipe.resolution,
            "max_shapes": self.max_shapes,
            "mesh_formats": list(MESH_FORMATS),
        }

    def voxels(self, seed: int, n: int = 4, cls: int | None = None) -> torch.Tensor:
        if not 1 <= n <= self.max_shapes:
            raise GankitError(f"n must be between 1 and {self.max_shapes}, got {n}")
        if cls is not None and not self.pipe.recipe.conditional:
            raise GankitError(f"{self.pipe.recipe.name} is not class-conditional: leave 'cls' out")
        with self.gate.turn():
            return self.pipe.sample(n, seed=seed, cls=cls).float().cpu()

    def views(
        self, seed: int, n: int = 4, cls: int | None = None, views: int = 6, size: int = 96, threshold: float = 0.5
    ) -> Image.Image:
        """One row per shape, ``views`` azimuths around it (the first is the training grids' camera); the surface is
        drawn where the occupancy crosses ``threshold`` (as ``gankit voxels --threshold``)."""
        from ..viz.voxels import render

        vox = self.voxels(seed, n, cls)
        frames = [render(vox, size, azimuth=-60 + 360 * k / views, threshold=_level(threshold)) for k in range(views)]
        return grid_image(torch.stack(frames, 1).flatten(0, 1), views)

    def turntable(
        self, seed: int, n: int = 4, cls: int | None = None, frames: int = 24, size: int = 96, threshold: float = 0.5
    ) -> bytes:
        """An animated GIF of the shapes turning once (in about 2 s whatever ``frames``), side by side."""
        from ..viz.voxels import turntable_frames

        imgs = turntable_frames(self.voxels(seed, n, cls), frames, size, threshold=_level(threshold))
        buf = io.BytesIO()
        imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=round(1920 / frames), loop=0)
        return buf.getvalue()

    def mesh(
        self, seed: int, n: int = 4, index: int = 0, cls: int | None = None, fmt: str = "obj", threshold: float = 0.5
    ) -> bytes:
        """Shape ``index`` of the ``n`` drawn for ``seed`` as a mesh file."""
        from ..pipelines.voxel import shape_file

        if fmt not in MESH_FORMATS:
            raise GankitError(f"format must be one of {', '.join(MESH_FORMATS)}, got '{fmt}'")
        if not 0 <= index < n:
            raise GankitError(f"index must be in 0..{n - 1}, got {index}")
        data = shape_file(self.voxels(seed, n, cls)[index, 0].numpy(), fmt, _level(threshold))
        if data is None:
            raise GankitError(f"shape {index} of seed {seed} is empty: no voxel above {threshold}")
        return data


# --------------------------------------------------------------------------- face ageing


class AgePanel(ImagePanel):
    """An uploaded face -> re-aged to one target bin, or to every bin as a strip (input first), as ``gankit age``:
    encode (E), optimise the latent for identity (``steps``), draw G at the target ages. Photo models crop the largest
    face first (dlib), emoji models take the whole picture."""

    kind = "age"
    max_steps = 200  # latent optimisation steps one request may ask for (each is a G forward and backward)

    def __init__(self, ident, pipe, gate):
        super().__init__(ident, pipe, gate)
        self.classes = list(pipe.classes)

    def info(self):
        return {
            **super().info(),
            "classes": self.classes,
            "source": self.classes[len(self.classes) // 2],
            "steps": self.pipe.opts.latent_steps,
            "max_steps": self.max_steps,
            "detect_faces": self.pipe.photo,
            "size": int(self.pipe.shape[-1]),
            "max_input_pixels": self.max_input_pixels,
        }

    def _bin(self, name: str | None, key: str, default: int) -> int:
        if name is None or name == "":
            return default
        if name in self.classes:
            return self.classes.index(name)
        raise GankitError(f"{key}: '{name[:20]}' is not an age bin of this model ({', '.join(self.classes)})")

    def face(self, im: Image.Image) -> torch.Tensor:
        """The upload as the model's input: 1 x C x S x S in [-1, 1] (alpha on white; photo models: the face)."""
        try:
            return self.pipe.face(im)
        except GankitError:  # the crop `gankit age` makes; its "use --no-detect" advice is for the command line
            raise GankitError(
                "no face found in the upload (dlib's frontal face detector): this model was trained "
                "on face crops; upload a picture with one clear frontal face"
            ) from None

    def apply(
        self, im, direction=None, target: str | None = None, source: str | None = None, steps: int | None = None
    ) -> Image.Image:
        """``target`` a bin name (one image) or None / ``all`` (the strip); ``source`` the input's own bin
        (default the middle one, as ``gankit age``)."""
        if direction:
            raise GankitError("an ageing model has no direction; use target")
        self.check_size(im)
        k = len(self.classes)
        one = None if target in (None, "", "all") else self._bin(target, "target", 0)
        y0 = self._bin(source, "source", k // 2)
        steps = self.pipe.opts.latent_steps if steps is None else steps
        if not 0 <= steps <= self.max_steps:
            raise GankitError(f"steps must be between 0 and {self.max_steps}, got {steps}")
        x = self.face(im)
        with self.gate.turn():
            far = self.pipe.far_inputs(x)
            z = self.pipe.latents(x, torch.tensor([y0], device=x.device), steps, check=False)
            bins = [one] if one is not None else list(range(k))
            outs = [self.pipe.reage(z, torch.tensor([b], device=x.device)) for b in bins]
        images = torch.cat(([] if one is not None else [x.float()]) + [o.float() for o in outs]).cpu()
        out = upscale_small(grid_image(images, images.shape[0], pad=0 if one is not None else 2), images.shape[-1])
        if far:  # the page shows it beside the picture (app.py sends it as the X-Gankit-Warning header)
            out.info["warning"] = self.pipe.far_message("this picture", *far[0][1:])
        return out


# --------------------------------------------------------------------------- serving checkpoints

PANELS: dict[str, type[Panel]] = {
    p.kind: p for p in (NoisePanel, TranslatePanel, UpscalePanel, TextPanel, VoxelPanel, AgePanel)
}


def panel_for(pipe: pipelines.Pipeline) -> type[Panel]:
    """The panel of a pipeline's modality; ``Panel`` (the run's pictures) for a modality the page has none for."""
    return PANELS.get(pipe.modality, Panel)


def load_models(paths, device: str = "cpu", max_queue: int = 8, wait_s: float = 30.0) -> dict[str, Panel]:
    """Each checkpoint named on the command line, loaded once through its pipeline (the same checkpoint named twice
    is served once)."""
    from ..train import checkpoint as ckpt

    if not paths:
        raise GankitError("name at least one run directory or checkpoint to serve")
    models: dict[str, Panel] = {}
    seen: set[Path] = set()
    for p in paths:
        c = ckpt.load(p)
        where = c.path.resolve()
        if where in seen:
            continue
        seen.add(where)
        pipe = pipelines.load(c, device)  # the pipeline keeps the state, not a second copy of every tensor
        recipe = c.config["recipe"]
        data = str((c.state.get("data_info") or {}).get("name") or "data").rstrip("/").split("/")[-1]
        slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in f"{recipe}-{data}")[:40]
        ident = f"{len(models)}-{slug}"
        models[ident] = panel_for(pipe)(ident, pipe, Gate(max_queue, wait_s))
    return models
