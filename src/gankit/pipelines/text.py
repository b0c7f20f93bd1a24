"""Text -> image: captions in, images out, for any recipe of the ``text`` modality (StackGAN, ...).

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
    def generate(self, emb: torch.Tensor, seed: int = 0, noise: dict | None = None, output: str = "image"
                 ) -> torch.Tensor:
        """Images for embeddings ``emb`` (one per row); each row draws its own noise from ``seed``. ``output``
        picks one of ``outputs``."""
        if output not in self.outputs:
            raise GankitError(f"this {self.recipe.name} model draws {', '.join(self.outputs)} images, not {output}")
        noise = self.noise(emb.shape[0], seed) if noise is None else noise
        return self.recipe.draw(self.G, emb, noise)[output].float()

    def walk(self, caption_a: str, caption_b: str, steps: int = 8, rows: int = 1, seed: int = 0,
             output: str = "image") -> torch.Tensor:
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
        with the model's encoder, recorded in the metadata) and the noise the recipe draws, input by input."""
        g = torch.Generator().manual_seed(0)
        noise = self.recipe.noise(batch, g)
        dim = int(getattr(self.recipe, "text_dim", None) or self.recipe.opts.text_dim)
        emb = torch.randn(batch, dim, generator=g)
        names = list(noise)
        inputs = [{"name": "embedding", "shape": ["batch", dim], "dtype": "float32",
                   "note": f"caption embedding by the model's text encoder "
                           f"({getattr(self.recipe.opts, 'text_encoder', 'see config')})"}]
        inputs += [{"name": k, "shape": ["batch", int(v.shape[1])], "dtype": "float32",
                    "distribution": "standard normal"} for k, v in noise.items()]
        axes = {i["name"]: {0: "batch"} for i in inputs} | {"image": {0: "batch"}}
        out = [{"name": "image", "shape": ["batch", *self.recipe.shape], **IMAGES}]
        module = TextGenerator(self.recipe, self.G, names).eval()
        return Exportable(module, (emb, *noise.values()), inputs, out, axes, self.export_meta())


class TextGenerator(nn.Module):
    """(embedding, *noise) -> images through ``recipe.draw``: what ``gankit export`` traces for a text model."""

    def __init__(self, recipe, G: nn.Module, noise_names: list[str]):
        super().__init__()
        self.G, self.names = G, noise_names
        self._draw = recipe.draw  # a bound method: frozen nets it draws with (StackGAN's G1) are traced as constants

    def forward(self, emb: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        return self._draw(self.G, emb, dict(zip(self.names, noise)))["image"].float()
