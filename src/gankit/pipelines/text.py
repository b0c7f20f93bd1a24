"""Text -> image: captions in, images out, for any recipe of the ``text`` modality (DF-GAN, StackGAN).

What a text recipe offers the pipeline (the protocol, by duck typing):

- ``encoder()``: the caption encoder the model was trained with: ``.encode(list[str]) -> N x text_dim``;
- ``noise(n, generator) -> dict[str, Tensor]``: the random inputs of ``n`` images, each ``n x d``;
- ``draw(G, emb, noise) -> dict[str, Tensor]``: images in [-1, 1] for caption embeddings, ``image`` and any other
  named outputs (StackGAN stage II: ``stage1``, its stage-I draft);
- optionally ``draws``: the names ``draw`` returns (default ``("image",)``);
- ``text_dim`` or ``opts.text_dim``: the size of a caption embedding (for ``gankit export``).

Any caption works, seen in training or not: the model's own text encoder embeds it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GankitError
from .base import IMAGES, Exportable, Pipeline
from .noise import slerp


class TextPipeline(Pipeline):
    """``pipe(captions, n, seed)`` -> images; ``embed``, ``generate`` (from embeddings) and ``walk`` (between two
    captions) for finer use."""

    modality = "text"
    command = 'gankit text2img CKPT "a caption" -n 16 --out grid.png'

    def __init__(self, recipe, G: nn.Module, checkpoint=None, ema: bool = False):
        self.recipe, self.G, self.checkpoint, self.ema = recipe, G.eval(), checkpoint, ema

    @classmethod
    def from_loaded(cls, loaded, **options):
        return cls(loaded.recipe, loaded.nets["G"], loaded.checkpoint, "G" in loaded.ema)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The pictures ``draw`` gives: ``image`` first, then intermediate ones by name."""
        return tuple(getattr(self.recipe, "draws", ("image",)))

    @torch.no_grad()
    def embed(self, captions: list[str]) -> torch.Tensor:
        return self.recipe.encoder().encode(list(captions)).to(self.recipe.device)

    def noise(self, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        return self.recipe.noise(n, torch.Generator(self.recipe.device).manual_seed(seed))

    @torch.no_grad()
    def generate(
        self, emb: torch.Tensor, seed: int = 0, noise: dict | None = None, output: str = "image"
    ) -> torch.Tensor:
        """Images for embeddings ``emb`` (one per row); each row draws its own noise from ``seed``. ``output``
        picks one of ``outputs``."""
        if output not in self.outputs:
            raise GankitError(f"this {self.recipe.name} model draws {', '.join(self.outputs)} images, not {output}")
        noise = self.noise(emb.shape[0], seed) if noise is None else noise
        return self.recipe.draw(self.G, emb, noise)[output].float()

    def walk(
        self, caption_a: str, caption_b: str, steps: int = 8, rows: int = 1, seed: int = 0, output: str = "image"
    ) -> torch.Tensor:
        """``rows`` rows of ``steps`` frames from caption A to caption B (slerp of the embeddings); each row holds its
        own noise fixed. Row-major: (rows * steps) images."""
        e = self.embed([caption_a, caption_b])
        t = torch.linspace(0, 1, steps, device=e.device)[:, None]
        path = slerp(e[:1].expand(steps, -1), e[1:].expand(steps, -1), t)  # steps x dim
        noise = {k: v.repeat_interleave(steps, 0) for k, v in self.noise(rows, seed).items()}
        return self.generate(path.repeat(rows, 1), noise=noise, output=output)

    def __call__(self, captions: list[str], n: int = 1, seed: int = 0, output: str = "image") -> torch.Tensor:
        """``n`` images for each caption (caption-major)."""
        return self.generate(self.embed(captions).repeat_interleave(n, 0), seed, output=output)

    def exportable(self, batch: int = 2) -> Exportable:
        """The generator with the caption embedding as an input (the text encoder stays outside: embed captions
        with the model's encoder, named in the metadata) and the recipe's noise as one standard-normal input, its
        parts side by side (one input, so a part a model leaves unused, e.g. stage I's ``eps2``, is not dropped)."""
        g = torch.Generator().manual_seed(0)
        parts = {k: int(v.shape[1]) for k, v in self.recipe.noise(1, g).items()}
        dim = int(getattr(self.recipe, "text_dim", None) or self.recipe.opts.text_dim)
        emb = torch.randn(batch, dim, generator=g)
        noise = torch.randn(batch, sum(parts.values()), generator=g)
        edges, at = {}, 0
        for k, d in parts.items():
            edges[k], at = [at, at + d], at + d
        encoder = getattr(self.recipe.opts, "text_encoder", None)
        inputs = [
            {
                "name": "embedding",
                "shape": ["batch", dim],
                "dtype": "float32",
                "note": f"the caption embedding of the model's text encoder{f' ({encoder})' if encoder else ''}",
            },
            {
                "name": "noise",
                "shape": ["batch", at],
                "dtype": "float32",
                "distribution": "standard normal",
                "parts": edges,
            },
        ]
        axes = {"embedding": {0: "batch"}, "noise": {0: "batch"}, "image": {0: "batch"}}
        out = [{"name": "image", "shape": ["batch", *self.recipe.shape], **IMAGES}]
        return Exportable(
            TextGenerator(self.recipe, self.G, parts).eval(), (emb, noise), inputs, out, axes, self.export_meta()
        )


class TextGenerator(nn.Module):
    """(embedding, noise) -> images through ``recipe.draw``: what ``gankit export`` traces for a text model."""

    def __init__(self, recipe, G: nn.Module, parts: dict[str, int]):
        super().__init__()
        self.G, self.parts = G, parts
        self._draw = recipe.draw  # a bound method: frozen nets it draws with (StackGAN's G1) are traced as constants

    def forward(self, emb: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        split = dict(zip(self.parts, noise.split(list(self.parts.values()), 1)))
        return self._draw(self.G, emb, split)["image"].float()
