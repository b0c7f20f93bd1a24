"""What the studio can do with a checkpoint: one small adapter class per *kind* of model.

- ``NoiseModel``: noise -> image families (mlp-gan, dcgan, lsgan, cgan, agecgan stage 1): a seeded grid, latent
  sliders along fixed random directions, truncation, class picking, interpolation between two seeds (``gankit.api``).
- ``TranslateModel``: image -> image (pix2pix, cyclegan) through ``gankit.translate`` (as ``gankit translate``).
- ``UpscaleModel``: x4 super-resolution (srgan) through the same tiled upscaler as ``gankit upscale``.
- ``TextModel``: caption -> images (stackgan), as ``gankit text2img``.
- ``VoxelModel``: noise -> voxel shapes (gan3d): shaded views, a turntable GIF, OBJ/PLY meshes, as ``gankit voxels``.
- ``AgeModel``: an uploaded face re-aged (agecgan stage 2), as ``gankit age``.

``KINDS`` maps a recipe name to its adapter (``kind_for``); a recipe not listed there that samples from noise
(``use_instead`` is None) is a ``NoiseModel``. The last three reach their family through one loader function each
(``load_text``, ``load_voxels``, ``load_age``), so family-specific code stays in this file.

Each adapter is loaded once per checkpoint and shared by all requests. ``Gate`` serialises the work on one model
(a forward pass is not re-entrant: ``Recipe.sample`` flips train/eval mode) and bounds the queue in front of it.
"""
from __future__ import annotations

import json
import math
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import torch
from PIL import Image

from ..errors import GankitError

N_SLIDERS = 6  # latent sliders on the page: fixed random unit directions per model
MAX_SLIDER = 5.0  # a slider moves the latent by up to this many standard deviations along its direction


class Busy(Exception):
    """The model's queue is full or the wait for it ran out (answered with 429)."""


class Gate:
    """One request at a time on a model; at most ``max_queue`` requests in flight or waiting, each waiting at most
    ``wait_s`` seconds."""

    def __init__(self, max_queue: int = 8, wait_s: float = 30.0):
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_queue)
        self.wait_s = wait_s

    @contextmanager
    def turn(self):
        if not self._slots.acquire(blocking=False):
            raise Busy("the model's request queue is full; try again shortly")
        try:
            if not self._lock.acquire(timeout=self.wait_s):
                raise Busy(f"the model was busy for more than {self.wait_s:g} s; try again shortly")
            try:
                yield
            finally:
                self._lock.release()
        finally:
            self._slots.release()


def png_bytes(im: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def run_files(run_dir: Path) -> dict[str, Path]:
    """The run's pictures the page may show, by name relative to the run directory (the only files served)."""
    run_dir = Path(run_dir)
    out = {}
    for name in ("loss.png", "health.md"):
        if (run_dir / name).is_file():
            out[name] = run_dir / name
    for pattern in ("samples/*.png", "eval/*.json"):
        for p in sorted(run_dir.glob(pattern)):
            if p.is_file() and not p.name.startswith("."):
                out[p.relative_to(run_dir).as_posix()] = p
    return out


def score_cards(run_dir: Path) -> list[dict]:
    """``gankit eval`` results written into the run (``eval/*.json``): scores and what they were measured on."""
    cards = []
    for p in sorted(Path(run_dir).glob("eval/*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(d, dict) and isinstance(d.get("scores"), dict):
            card = d.get("card") or {}
            cards.append({"file": p.name, "scores": d["scores"],
                          "extractor": (card.get("extractor") or {}).get("name"),
                          "n_fake": card.get("n_fake"), "reference": card.get("reference")})
    return cards


class StudioModel:
    """Common surface: ``info()`` for the model picker, ``gate`` for exclusive use, the run directory."""

    kind: ClassVar[str]

    def __init__(self, ident: str, checkpoint, gate: Gate):
        self.id, self.checkpoint, self.gate = ident, checkpoint, gate

    @property
    def run_dir(self) -> Path:
        return self.checkpoint.run_dir

    def info(self) -> dict:
        s = self.checkpoint.state
        cfg = s["config"]
        best = s.get("best") or None
        cards = score_cards(self.run_dir)
        data = (s.get("data_info") or {}).get("name") or cfg.get("data", {}).get("name") or "?"
        return {"id": self.id, "kind": self.kind, "family": cfg["recipe"], "preset": cfg.get("preset"),
                "data": data, "data_label": str(data).rstrip("/").split("/")[-1],
                "shape": (s.get("data_info") or {}).get("shape"), "step": int(s["step"]),
                "checkpoint": str(self.checkpoint.path), "best": best, "cards": cards}


# --------------------------------------------------------------------------- noise -> image


class NoiseModel(StudioModel):
    kind = "noise"

    def __init__(self, ident, checkpoint, gate, device="cpu"):
        from .. import api

        super().__init__(ident, checkpoint, gate)
        self.gen = api.load(checkpoint.path, device=device)
        self.gen.checkpoint = checkpoint  # the light copy: the tensors are in the nets now
        self.recipe = self.gen.recipe
        g = torch.Generator().manual_seed(20240601)  # the same slider directions every time the model is served
        d = torch.randn(N_SLIDERS, self.recipe.latent_dim, generator=g)
        self.directions = (d / d.norm(dim=1, keepdim=True)).to(self.recipe.device)

    def info(self):
        return {**super().info(), "latent_dim": self.recipe.latent_dim, "sliders": N_SLIDERS,
                "conditional": bool(self.recipe.conditional), "classes": self.gen.classes if self.recipe.conditional
                else [], "ema": self.gen.ema}

    def latents(self, n: int, seed: int, truncation: float = 1.0, sliders: list[float] | None = None) -> torch.Tensor:
        """``n`` latents of ``seed``, pulled toward the mean (0) by ``truncation`` (1: none), then moved along the
        slider directions."""
        z = self.gen.latents(n, seed) * truncation
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

    def sample(self, seed: int, n: int = 16, cls: int | None = None, truncation: float = 1.0,
               sliders: list[float] | None = None) -> Image.Image:
        self._check(cls, sliders)
        from ..viz.grid import grid_image

        with self.gate.turn():
            images = self.gen.sample(n, seed=seed, cls=cls, z=self.latents(n, seed, truncation, sliders))
        return upscale_small(grid_image(images, max(1, round(math.sqrt(n)))), images.shape[-1])

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8, cls: int | None = None,
                    truncation: float = 1.0, mode: str = "slerp") -> Image.Image:
        from .. import api
        from ..viz.grid import grid_image

        self._check(cls, None)
        if cls is None and self.recipe.conditional:
            cls = 0  # one class along the whole strip (the grid's default cycles through the classes)
        a = self.latents(1, seed_a, truncation)
        b = self.latents(1, seed_b, truncation)
        t = torch.linspace(0, 1, steps, device=a.device)[:, None]
        z = api.slerp(a, b, t) if mode == "slerp" else (1 - t) * a + t * b
        with self.gate.turn():
            images = self.gen.sample(steps, seed=seed_a, cls=cls, z=z)
        return upscale_small(grid_image(images, steps), images.shape[-1])


def upscale_small(im: Image.Image, side: int) -> Image.Image:
    """Nearest-neighbour enlargement so 28 px samples are visible (as the training grids are saved)."""
    k = max(1, 64 // side)
    return im.resize((im.width * k, im.height * k), Image.Resampling.NEAREST) if k > 1 else im


# --------------------------------------------------------------------------- image -> image


class ImageModel(StudioModel):
    """An upload goes in, an image of the same picture comes out; ``max_input_pixels`` bounds the work."""

    max_input_pixels: int = 4_000_000

    def apply(self, im: Image.Image, direction: str | None = None) -> Image.Image:
        raise NotImplementedError

    def check_size(self, im: Image.Image) -> None:
        from .uploads import UploadError

        if im.width * im.height > self.max_input_pixels:
            raise UploadError(413, f"{im.width} x {im.height} = {im.width * im.height:,} pixels is over this "
                                   f"{self.kind} model's {self.max_input_pixels:,}-pixel input limit")


class TranslateModel(ImageModel):
    kind = "translate"

    def __init__(self, ident, checkpoint, gate, device="cpu"):
        from ..translate import load_translator

        super().__init__(ident, checkpoint, gate)
        trained = checkpoint.config["data"].get("direction") or "AtoB"
        self.translators = {trained: load_translator(checkpoint.path, trained, device)}
        other = "BtoA" if trained == "AtoB" else "AtoB"
        if "F" in self.translators[trained].recipe.nets:  # CycleGAN: its second generator runs the other way
            self.translators[other] = load_translator(checkpoint.path, other, device)
        self.default = trained

    def info(self):
        return {**super().info(), "directions": list(self.translators), "max_input_pixels": self.max_input_pixels}

    def apply(self, im, direction=None):
        tr = self.translators.get(direction or self.default)
        if tr is None:
            raise GankitError(f"direction must be one of {', '.join(self.translators)}, got '{direction}'")
        self.check_size(im)
        with self.gate.turn():
            return translate(tr, im)


def translate(tr, im: Image.Image) -> Image.Image:
    """An in-memory image through ``Translator.translate_tensor`` as ``gankit translate`` does it (``--fit scale``:
    transparency composited on the run's background colour, output the input's size)."""
    from ..data.images import parse_colour, to_float, to_tensor_u8, to_uint8

    if im.mode != "RGB":
        canvas = Image.new("RGBA", im.size, parse_colour(tr.background) + (255,))
        im = Image.alpha_composite(canvas, im.convert("RGBA")).convert("RGB")
    if tr.channels == 1:
        im = im.convert("L")
    y = tr.translate_tensor(to_float(to_tensor_u8(im)), "scale")
    arr = to_uint8(y).permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


class UpscaleModel(ImageModel):
    kind = "upscale"
    max_input_pixels = 512 * 512  # the output has 16x as many pixels

    def __init__(self, ident, checkpoint, gate, device="cpu"):
        super().__init__(ident, checkpoint, gate)
        from ..upscale import load_model

        self.model = load_model(checkpoint.path, device=device)
        self.model.G.eval()
        self.device = device

    def info(self):
        return {**super().info(), "scale": self.model.scale, "ema": self.model.ema,
                "max_input_pixels": self.max_input_pixels}

    def apply(self, im, direction=None):
        if direction:
            raise GankitError("an upscaling model has no direction")
        self.check_size(im)
        with self.gate.turn():
            return upscale(self.model, im, self.device)


def upscale(model, im: Image.Image, device) -> Image.Image:
    """The one call into the tiled upscaler that ``gankit upscale`` uses (alpha kept, greyscale stays grey)."""
    from ..upscale import upscale_image

    with torch.no_grad():
        return upscale_image(model, im, tile=128, overlap=16, device=device)


# --------------------------------------------------------------------------- text -> image (stackgan)
#
# The three families below are reached through one small loader function each (``load_text``, ``load_voxels``,
# ``load_age``): the only places that know the families' own APIs, so a change there is a change here only.

MAX_CAPTION = 200  # characters


def load_text(path, device: str = "cpu"):
    """A StackGAN checkpoint as ``models.stackgan.TextToImage`` (EMA G when present), as ``gankit text2img``."""
    from ..models.stackgan import text_to_image
    from ..train import checkpoint as ckpt

    c = ckpt.load(path)
    return text_to_image(c.config, c.state, c.tensors, device, ema=True)


def _caption(text: str | None, name: str = "caption") -> str:
    text = (text or "").strip()
    if not text:
        raise GankitError(f"{name}: type a caption, e.g. 'a red apple'")
    if len(text) > MAX_CAPTION:
        raise GankitError(f"{name}: at most {MAX_CAPTION} characters, got {len(text)}")
    return text


class TextModel(StudioModel):
    """Caption -> a grid of ``n`` images (each its own z and CA epsilon from ``seed``); a walk between two captions'
    embeddings (slerp) with each row's noise held fixed. Any caption works: the run's own text encoder embeds it."""

    kind = "text"

    def __init__(self, ident, checkpoint, gate, device="cpu"):
        super().__init__(ident, checkpoint, gate)
        self.model = load_text(checkpoint.path, device)

    def info(self):
        o = self.model.recipe.opts
        return {**super().info(), "stage": o.stage, "text_encoder": o.text_encoder, "ema": self.model.ema,
                "max_caption": MAX_CAPTION}

    def _stage1(self, stage1: bool) -> bool:
        if stage1 and self.model.stage != "stage2":
            raise GankitError("stage1: only a stage-II model has stage-I images to show")
        return stage1

    def generate(self, caption: str, seed: int = 0, n: int = 16, stage1: bool = False) -> Image.Image:
        from ..viz.grid import grid_image

        caption, stage1 = _caption(caption), self._stage1(stage1)
        with self.gate.turn():
            emb = self.model.embed([caption]).repeat_interleave(n, 0)
            images = self.model.generate(emb, seed, stage1=stage1)
        return upscale_small(grid_image(images, max(1, round(math.sqrt(n)))), images.shape[-1])

    def interpolate(self, caption_a: str, caption_b: str, seed: int = 0, steps: int = 8,
                    stage1: bool = False) -> Image.Image:
        """One row of ``steps`` frames from caption A to caption B (slerp of the embeddings, the same noise)."""
        from .. import api
        from ..viz.grid import grid_image

        a, b, stage1 = _caption(caption_a, "caption_a"), _caption(caption_b, "caption_b"), self._stage1(stage1)
        r = self.model.recipe
        with self.gate.turn():
            e = self.model.embed([a, b])
            t = torch.linspace(0, 1, steps, device=e.device)[:, None]
            emb = api.slerp(e[:1].expand(steps, -1), e[1:].expand(steps, -1), t)
            noise = r.noise(1, torch.Generator(r.device).manual_seed(seed))
            noise = {k: v.expand(steps, -1) for k, v in noise.items()}
            images = self.model.generate(emb, noise=noise, stage1=stage1)
        return upscale_small(grid_image(images, steps), images.shape[-1])


# --------------------------------------------------------------------------- noise -> voxels (gan3d)

MESH_FORMATS = ("obj", "ply")


def load_voxels(path, device: str = "cpu"):
    """A gan3d checkpoint as ``api.Generator`` (EMA G when present), as ``gankit voxels``: ``sample`` gives
    N x 1 x D x H x W occupancies in [0, 1]."""
    from .. import api

    return api.load(path, device=device)


def mesh_bytes(vol, fmt: str, threshold: float = 0.5) -> bytes | None:
    """One grid -> OBJ/PLY bytes through ``gankit voxels``' mesher (marching cubes, cleaned); None when empty."""
    from ..data.meshes import voxels_to_mesh

    mesh = voxels_to_mesh(vol, threshold)
    if mesh is None:
        return None
    data = mesh.export(file_type=fmt)
    return data.encode() if isinstance(data, str) else data


class VoxelModel(StudioModel):
    """Seed (+ class) -> shapes, shown as shaded renders from ``gankit.viz.voxels``: a still strip of views around
    each shape and an animated turntable GIF; any shape as an OBJ/PLY mesh."""

    kind = "voxel"
    max_shapes = 9

    def __init__(self, ident, checkpoint, gate, device="cpu"):
        super().__init__(ident, checkpoint, gate)
        self.gen = load_voxels(checkpoint.path, device)
        self.recipe = self.gen.recipe

    def info(self):
        return {**super().info(), "conditional": bool(self.recipe.conditional),
                "classes": self.gen.classes if self.recipe.conditional else [], "ema": self.gen.ema,
                "resolution": int(self.recipe.shape[-1]), "max_shapes": self.max_shapes,
                "mesh_formats": list(MESH_FORMATS)}

    def voxels(self, seed: int, n: int = 4, cls: int | None = None) -> torch.Tensor:
        if not 1 <= n <= self.max_shapes:
            raise GankitError(f"n must be between 1 and {self.max_shapes}, got {n}")
        if cls is not None and not self.recipe.conditional:
            raise GankitError(f"{self.recipe.name} is not class-conditional: leave 'cls' out")
        with self.gate.turn():
            return self.gen.sample(n, seed=seed, cls=cls).float().cpu()

    def views(self, seed: int, n: int = 4, cls: int | None = None, views: int = 6, size: int = 96,
              threshold: float = 0.5) -> Image.Image:
        """One row per shape, ``views`` azimuths around it (the first is the training grids' camera); the surface is
        drawn where the occupancy crosses ``threshold`` (as ``gankit voxels --threshold``)."""
        from ..viz.grid import grid_image
        from ..viz.voxels import render

        vox = self.voxels(seed, n, cls)
        frames = [render(vox, size, azimuth=-60 + 360 * k / views, threshold=_level(threshold)) for k in range(views)]
        return grid_image(torch.stack(frames, 1).flatten(0, 1), views)

    def turntable(self, seed: int, n: int = 4, cls: int | None = None, frames: int = 24, size: int = 96,
                  threshold: float = 0.5) -> bytes:
        """An animated GIF of the shapes turning once (in about 2 s whatever ``frames``), side by side."""
        import io

        from ..viz.voxels import turntable_frames

        imgs = turntable_frames(self.voxels(seed, n, cls), frames, size, threshold=_level(threshold))
        buf = io.BytesIO()
        imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=round(1920 / frames), loop=0)
        return buf.getvalue()

    def mesh(self, seed: int, n: int = 4, index: int = 0, cls: int | None = None, fmt: str = "obj",
             threshold: float = 0.5) -> bytes:
        """Shape ``index`` of the ``n`` drawn for ``seed`` as a mesh file."""
        if fmt not in MESH_FORMATS:
            raise GankitError(f"format must be one of {', '.join(MESH_FORMATS)}, got '{fmt}'")
        if not 0 <= index < n:
            raise GankitError(f"index must be in 0..{n - 1}, got {index}")
        data = mesh_bytes(self.voxels(seed, n, cls)[index, 0].numpy(), fmt, _level(threshold))
        if data is None:
            raise GankitError(f"shape {index} of seed {seed} is empty: no voxel above {threshold}")
        return data


def _level(threshold: float) -> float:
    if not (math.isfinite(threshold) and 0 < threshold < 1):
        raise GankitError(f"threshold must be in (0, 1), got {threshold}")
    return threshold


# --------------------------------------------------------------------------- face ageing (agecgan, stage 2)


def load_age(path, device: str = "cpu"):
    """A stage-2 agecgan checkpoint as ``models.agecgan.AgeModel`` (G, E, identity embedder), as ``gankit age``."""
    from ..ageing import load_model

    return load_model(path, device)


class AgeModel(ImageModel):
    """An uploaded face -> re-aged to one target bin, or to every bin as a strip (input first), as ``gankit age``:
    encode (E), optimise the latent for identity (``steps``), draw G at the target ages. Photo models crop the largest
    face first (dlib), emoji models take the whole picture. Stage-1 agecgan checkpoints are noise models."""

    kind = "age"
    max_steps = 200  # latent optimisation steps one request may ask for (each is a G forward and backward)

    def __init__(self, ident, checkpoint, gate, device="cpu"):
        super().__init__(ident, checkpoint, gate)
        self.model = load_age(checkpoint.path, device)
        self.device = device
        self.classes = list(self.model.classes)
        self.photo = self.model.opts.identity != "emoji"

    def info(self):
        return {**super().info(), "classes": self.classes, "source": self.classes[len(self.classes) // 2],
                "steps": self.model.opts.latent_steps, "max_steps": self.max_steps, "detect_faces": self.photo,
                "size": int(self.model.shape[-1]), "max_input_pixels": self.max_input_pixels}

    def _bin(self, name: str | None, key: str, default: int) -> int:
        if name is None or name == "":
            return default
        if name in self.classes:
            return self.classes.index(name)
        raise GankitError(f"{key}: '{name[:20]}' is not an age bin of this model ({', '.join(self.classes)})")

    def face(self, im: Image.Image) -> torch.Tensor:
        """The upload as the model's input: 1 x C x S x S in [-1, 1] (alpha on white; photo models: the face)."""
        from ..data.images import square_resize, to_float, to_tensor_u8

        if im.mode == "RGBA":
            canvas = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(canvas, im)
        im = im.convert("RGB")
        if self.photo:  # the crop `gankit age` makes; its "use --no-detect" advice is for the command line
            from ..cli_age import crop_face

            try:
                im = crop_face(im)
            except GankitError:
                raise GankitError("no face found in the upload (dlib's frontal face detector): this model was trained "
                                  "on face crops; upload a picture with one clear frontal face") from None
        x = to_float(to_tensor_u8(square_resize(im, self.model.shape[-1])))
        if self.model.shape[0] == 1:
            x = x.mean(0, keepdim=True)
        return x[None].to(self.device)

    def apply(self, im, direction=None, target: str | None = None, source: str | None = None,
              steps: int | None = None) -> Image.Image:
        """``target`` a bin name (one image) or None / ``all`` (the strip); ``source`` the input's own bin
        (default the middle one, as ``gankit age``)."""
        from ..viz.grid import grid_image

        if direction:
            raise GankitError("an ageing model has no direction; use target")
        self.check_size(im)
        k = len(self.classes)
        one = None if target in (None, "", "all") else self._bin(target, "target", 0)
        y0 = self._bin(source, "source", k // 2)
        steps = self.model.opts.latent_steps if steps is None else steps
        if not 0 <= steps <= self.max_steps:
            raise GankitError(f"steps must be between 0 and {self.max_steps}, got {steps}")
        x = self.face(im)
        with self.gate.turn():
            z = self.model.latents(x, torch.tensor([y0], device=x.device), steps)
            bins = [one] if one is not None else list(range(k))
            outs = [self.model.reage(z, torch.tensor([b], device=x.device)) for b in bins]
        images = torch.cat(([] if one is not None else [x.float()]) + [o.float() for o in outs]).cpu()
        return upscale_small(grid_image(images, images.shape[0], pad=0 if one is not None else 2), images.shape[-1])


KINDS: dict[str, type[StudioModel]] = {
    "pix2pix": TranslateModel, "cyclegan": TranslateModel, "srgan": UpscaleModel,
    "stackgan": TextModel, "gan3d": VoxelModel, "agecgan": AgeModel,
}


def kind_for(recipe: str, config: dict | None = None) -> type[StudioModel]:
    """The adapter class for a recipe name (and the checkpoint's ``config``): ``KINDS``, else ``NoiseModel`` for a
    family that samples from noise. An agecgan stage-1 checkpoint (``model.stage: gan``) has no encoder yet: it is a
    class-conditional noise model whose classes are the age bins."""
    if recipe == "agecgan" and ((config or {}).get("model") or {}).get("stage") == "gan":
        return NoiseModel
    if recipe in KINDS:
        return KINDS[recipe]
    from ..models import recipe_class

    cls = recipe_class(recipe)
    if cls.use_instead:
        raise GankitError(f"the studio does not know how to serve {recipe} checkpoints (its command: "
                          f"{cls.use_instead}); add it to gankit.serve.models.KINDS")
    return NoiseModel


def load_models(paths, device: str = "cpu", max_queue: int = 8, wait_s: float = 30.0) -> dict[str, StudioModel]:
    """Each checkpoint named on the command line, loaded once (the same checkpoint named twice is served once)."""
    from ..train import checkpoint as ckpt

    if not paths:
        raise GankitError("name at least one run directory or checkpoint to serve")
    models: dict[str, StudioModel] = {}
    seen: set[Path] = set()
    for p in paths:
        c = ckpt.load(p)
        c = ckpt.Checkpoint(c.path, c.state, {})  # keep the state, not a second copy of every tensor
        where = c.path.resolve()
        if where in seen:
            continue
        seen.add(where)
        recipe = c.config["recipe"]
        data = str((c.state.get("data_info") or {}).get("name") or "data").rstrip("/").split("/")[-1]
        slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in f"{recipe}-{data}")[:40]
        ident = f"{len(models)}-{slug}"
        models[ident] = kind_for(recipe, c.config)(ident, c, Gate(max_queue, wait_s), device=device)
    return models
