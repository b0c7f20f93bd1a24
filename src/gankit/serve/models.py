"""What the studio can do with a checkpoint: one small adapter class per *kind* of model.

- ``NoiseModel``: noise -> image families (mlp-gan, dcgan, lsgan, cgan): a seeded grid, latent sliders along fixed
  random directions, truncation, class picking, interpolation between two seeds (``gankit.api``).
- ``TranslateModel``: image -> image (pix2pix, cyclegan) through ``gankit.translate`` (as ``gankit translate``).
- ``UpscaleModel``: x4 super-resolution (srgan) through the same tiled upscaler as ``gankit upscale``.

``TextModel``, ``VoxelModel`` and ``AgeModel`` are extension points for families that are not in this tree yet;
they refuse to load with a clear message instead of pretending. ``KINDS`` maps a recipe name to its adapter; a
recipe not listed there that samples from noise (``use_instead`` is None) is a ``NoiseModel``.

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
        load_model, _ = sr_library()
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


def sr_library():
    """(load_model, upscale_image) of the SR library that ``gankit upscale`` uses."""
    from ..upscale import load_model, upscale_image
    return load_model, upscale_image


def upscale(model, im: Image.Image, device) -> Image.Image:
    """The one call into the tiled upscaler that ``gankit upscale`` uses (alpha kept, greyscale stays grey)."""
    _, upscale_image = sr_library()
    with torch.no_grad():
        return upscale_image(model, im, tile=128, overlap=16, device=device)


# --------------------------------------------------------------------------- extension points (not served yet)


class _NotYet(StudioModel):
    expects: ClassVar[str] = ""

    def __init__(self, ident, checkpoint, gate, device="cpu"):
        raise GankitError(f"{checkpoint.path}: the studio cannot serve {checkpoint.config['recipe']} checkpoints yet "
                          f"({type(self).__name__} is an unfinished extension point: it needs {self.expects})")


class TextModel(_NotYet):
    """Text -> image (stackgan). To implement: a text box on the page (``GET .../text.png?caption=&seed=&n=``) and an
    adapter holding the loaded text-to-image model: a caption embedder ``embed(captions: list[str]) -> Tensor`` (the
    sentence encoder the run was trained with) and ``generate(embedding, seed) -> images in [-1, 1]``. The stackgan
    branch has these as ``models.stackgan.text_to_image(config, state, tensors, device, ema) -> TextToImage`` with
    ``.embed(captions)``, ``.generate(emb, seed=...)`` and ``__call__(captions, n, seed)``."""

    kind = "text"
    expects = "a caption embedder embed(captions) and generate(embedding, seed), e.g. models.stackgan.text_to_image"


class VoxelModel(_NotYet):
    """Noise -> voxels (gan3d, N x 1 x D x H x W in [0, 1]). To implement: ``recipe.sample(G, z, label)`` returns the
    voxels; the adapter turns one into a mesh (marching cubes: ``skimage.measure.marching_cubes`` or ``trimesh``) sent
    to the page as vertices + faces for a rotating view (or renders a turntable of PNGs with ``gankit.viz``), and
    offers the mesh as an OBJ/STL download. Note ``api.load`` expects an image shape (C, H, W): the adapter must
    build the recipe from the checkpoint's 4-D shape itself."""

    kind = "voxel"
    expects = "recipe.sample(G, z) -> N x 1 x D x H x W voxels and a mesh or turntable renderer"


class AgeModel(_NotYet):
    """Face ageing (agecgan: image + target age bin -> image). To implement: an upload plus an age-bin picker and
    ``ImageModel.apply(im, target)``; the agecgan branch's ``models.agecgan.load_model(path) -> AgeModel`` offers
    ``latents(x, y0)`` (encode + identity-preserving optimisation), ``reage(z, targets)`` and ``strip(x, y0)`` (every
    age bin in a row). Its optimisation takes many G steps: give the adapter a step budget and keep the gate's wait."""

    kind = "age"
    expects = "an age model with latents(x, y0) and reage(z, targets), e.g. models.agecgan.load_model"


KINDS: dict[str, type[StudioModel]] = {
    "pix2pix": TranslateModel, "cyclegan": TranslateModel, "srgan": UpscaleModel,
    "stackgan": TextModel, "gan3d": VoxelModel, "agecgan": AgeModel,
}


def kind_for(recipe: str) -> type[StudioModel]:
    """The adapter class for a recipe name: ``KINDS``, else ``NoiseModel`` for a family that samples from noise."""
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
        models[ident] = kind_for(recipe)(ident, c, Gate(max_queue, wait_s), device=device)
    return models
