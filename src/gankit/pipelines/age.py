"""Face ageing (Age-cGAN stage 2 and its stage 3 at use): encode a face (E), optimise its latent for identity, draw it
at every age bin (G). The library behind ``gankit age`` and the studio's ageing panel.

Stage 3 is per-image latent optimisation as in the paper: start from z0 = E(x), minimise
``identity_weight`` x ||FR(x) - FR(G(z, y0))|| + ``pixel_weight`` x L1(G(z, y0), x) over z only, ``latent_steps``
Adam steps (G, E, FR frozen); then G(z*, y) for every target bin. With dlib's descriptor (photographs), which has no
gradient, the steps are SPSA estimates. Photo models crop the largest frontal face first (``crop_face``).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..data.images import square_resize, to_float, to_tensor_u8
from ..errors import GankitError
from .base import IMAGES, Pipeline
from .noise import noise_exportable


def one_hot(y: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(y.long(), k).float()


def crop_face(im: Image.Image, margin: float = 0.4) -> Image.Image:
    """The largest frontal face (dlib's HOG detector) with ``margin`` x its size added on every side, as a square
    (padded with black where it leaves the picture), like IMDB-WIKI's crops."""
    import numpy as np

    from ..metrics.identity import detect_faces

    arr = np.asarray(im.convert("RGB"))
    boxes = detect_faces(arr, upsample=1 if max(im.size) > 300 else 2)
    if not boxes:
        raise GankitError(
            "no face found in the image (dlib frontal face detector); use --no-detect to age the whole image"
        )
    l, t, r, b = boxes[0]
    cx, cy, side = (l + r) / 2, (t + b) / 2, max(r - l, b - t) * (1 + 2 * margin)
    box = tuple(int(round(v)) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return im.convert("RGB").crop(box)  # PIL fills outside the picture with black; the margin rarely leaves it


class FarInputWarning(UserWarning):
    """An input far from the model's training faces: it is re-aged all the same, into a face of the training kind."""


class EmojiEmbedder:
    name = "emoji identity embedder (trained on emoji-people)"
    differentiable = True

    def __init__(self, net: nn.Module):
        self.net = net

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AgePipeline(Pipeline):
    """G, E (and an identity embedder) of a stage-2 checkpoint: ``latents(x, y0)`` then ``reage(z, targets)``, or
    ``strip(x, y0)``. ``identity`` has ``embed(x) -> N x d`` and ``differentiable``; ``None`` turns the identity
    term off."""

    modality = "age"
    command = "gankit age CKPT FACE --out DIR"
    options = ("identity",)

    def __init__(self, G: nn.Module, E: nn.Module, k: int, opts, identity, checkpoint=None, recipe=None):
        self.G, self.E, self.k, self.opts, self.identity = G, E, k, opts, identity
        self.checkpoint, self.recipe = checkpoint, recipe

    @classmethod
    def from_loaded(cls, loaded, identity: str | None = None):
        """``identity`` overrides the checkpoint's embedder: ``emoji``, ``dlib`` or ``none``."""
        r, c = loaded.recipe, loaded.checkpoint
        if identity not in (None, "emoji", "dlib", "none"):
            raise GankitError(f"--identity must be emoji, dlib or none, got '{identity}'")
        which = identity or r.opts.identity
        emb = None
        if which == "emoji":
            if "F" not in r.nets:
                raise GankitError(
                    f"{c.path}: holds no emoji identity embedder (trained with identity={r.opts.identity})"
                )
            emb = EmojiEmbedder(r.F.eval().requires_grad_(False))
        elif which == "dlib":
            from ..metrics.identity import DlibIdentity

            emb = DlibIdentity()
        return cls(r.G, r.E, r.num_classes, r.opts, emb, c, r)

    @property
    def photo(self) -> bool:
        """A model of photographs (crop the face first) rather than of emoji (take the whole picture)."""
        return self.opts.identity != "emoji"

    def bin_index(self, name: str, what: str = "--to") -> int:
        if name in self.classes:
            return self.classes.index(name)
        raise GankitError(f"{what} {name}: not an age bin of this model (bins: {', '.join(self.classes)})")

    def face(self, im: Image.Image, detect: bool | None = None) -> torch.Tensor:
        """A picture as the model's input: 1 x C x S x S in [-1, 1] (alpha on white); ``detect`` (default: for
        photo models) crops the largest face first."""
        if im.mode == "RGBA":
            canvas = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(canvas, im)
        im = im.convert("RGB")
        if self.photo if detect is None else detect:
            im = crop_face(im)
        x = to_float(to_tensor_u8(square_resize(im, self.shape[-1])))
        if self.shape[0] == 1:
            x = x.mean(0, keepdim=True)
        return x[None].to(self.device)

    # ---------------------------------------------------------------- the input check
    def far_inputs(self, x: torch.Tensor) -> list[tuple[int, float, float]]:
        """(index, distance, threshold) of each input farther from the training faces than the threshold
        calibrated on held-out faces and saved with the model (``nn/agecgan.py: InputCheck``); [] for a model
        saved without the check."""
        check = getattr(self.E, "check", None)
        if check is None:
            return []
        d, t = check.distance(x).cpu(), float(check.threshold)
        return [(i, float(v), t) for i, v in enumerate(d) if float(v) > t]

    def far_message(self, what: str, distance: float, threshold: float) -> str:
        return (
            f"warning: {what} is far from the faces this model was trained on (distance {distance:.2f} > "
            f"{threshold:.2f}, calibrated on held-out faces); it is re-aged all the same, as a face of the "
            f"training kind, not as this picture"
        )

    # ---------------------------------------------------------------- stage 3
    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        was = self.E.training
        self.E.eval()
        try:
            return self.E(x)
        finally:
            self.E.train(was)

    def render(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.G(z, one_hot(y, self.k))

    def objective(self, z, y0, x, target_emb, identity_weight, pixel_weight):
        out = self.render(z, y0)
        loss = torch.zeros(z.shape[0], device=z.device)
        if identity_weight and self.identity is not None:
            loss = loss + identity_weight * (self.identity.embed(out).to(z.device) - target_emb).norm(dim=1)
        if pixel_weight:
            loss = loss + pixel_weight * (out - x).abs().flatten(1).mean(1)
        return loss

    def optimise(
        self,
        x,
        y0,
        z0,
        steps: int | None = None,
        lr: float | None = None,
        identity_weight: float | None = None,
        pixel_weight: float | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, list[float]]:
        """Stage 3: z* = argmin_z identity_weight ||FR(x) - FR(G(z, y0))|| + pixel_weight |G(z, y0) - x|_1 from z0,
        per image (G, E, FR frozen; G in eval mode). Returns (z*, mean objective before each step and at the end)."""
        o = self.opts
        steps = o.latent_steps if steps is None else steps
        lr = o.latent_lr if lr is None else lr
        iw = o.identity_weight if identity_weight is None else identity_weight
        pw = o.pixel_weight if pixel_weight is None else pixel_weight
        was = self.G.training
        self.G.eval()
        saved = [(p, p.requires_grad) for p in self.G.parameters()]
        for p, _ in saved:
            p.requires_grad_(False)
        try:
            with torch.no_grad():
                target = self.identity.embed(x).to(x.device) if (iw and self.identity is not None) else None
            z = z0.detach().clone().requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)
            grad_free = target is not None and not getattr(self.identity, "differentiable", True)
            g = generator or torch.Generator(device=z.device).manual_seed(0)
            trace = []
            for _ in range(steps):
                if grad_free:  # SPSA: two evaluations along a random +-1 direction estimate the gradient
                    with torch.no_grad():
                        d = torch.randint(0, 2, z.shape, generator=g, device=z.device).float() * 2 - 1
                        c = 0.05
                        up = self.objective(z + c * d, y0, x, target, iw, pw)
                        dn = self.objective(z - c * d, y0, x, target, iw, pw)
                        trace.append(float((up + dn).mean() / 2))
                        z.grad = ((up - dn) / (2 * c))[:, None] * d
                else:
                    loss = self.objective(z, y0, x, target, iw, pw)
                    trace.append(float(loss.detach().mean()))
                    (z.grad,) = torch.autograd.grad(loss.sum(), z)
                opt.step()
            with torch.no_grad():
                trace.append(float(self.objective(z, y0, x, target, iw, pw).mean()))
            return z.detach(), trace
        finally:
            for p, r in saved:
                p.requires_grad_(r)
            self.G.train(was)

    def latents(self, x, y0, steps: int | None = None, check: bool = True, **kw) -> torch.Tensor:
        """z for each input (E, then ``steps`` of stage 3); ``check``: a ``FarInputWarning`` for each input far
        from the training faces (``far_inputs``)."""
        if check:
            for i, d, t in self.far_inputs(x):
                warnings.warn(self.far_message(f"input {i}", d, t), FarInputWarning, stacklevel=2)
        z0 = self.encode(x)
        steps = self.opts.latent_steps if steps is None else steps
        return self.optimise(x, y0, z0, steps, **kw)[0] if steps > 0 else z0

    @torch.no_grad()
    def reage(self, z: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        was = self.G.training
        self.G.eval()
        try:
            return self.render(z, targets)
        finally:
            self.G.train(was)

    def strip(self, x, y0, steps: int | None = None, check: bool = True) -> torch.Tensor:
        """N x (1 + k) x C x H x W: each input, then it re-aged to every bin."""
        z = self.latents(x, y0, steps, check)
        outs = [self.reage(z, torch.full((x.shape[0],), b, device=x.device, dtype=torch.long)) for b in range(self.k)]
        return torch.stack([x.float()] + [o.float() for o in outs], 1)

    @property
    def device(self) -> torch.device:
        return next(self.G.parameters()).device

    def exportable(self, batch: int = 2):
        """The decoder G: (z, age bin) -> a face, as a class-conditional noise model exports (E and the stage-3
        optimisation stay in Python)."""
        return noise_exportable(self, self.G, batch, {"name": "image", **IMAGES})
