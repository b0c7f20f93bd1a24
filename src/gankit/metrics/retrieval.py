"""Does an image show its caption? R-precision with a retrieval scorer that no model trains against.

The scorer is an image encoder (``nn.text.ImageEmbedder``) into the caption-embedding space, trained with the joint
embedding loss on the REAL training (image, caption) pairs of a caption set, and on nothing else: separately from
any model it scores, never inside a training loss, its weights cached under ``$GANKIT_CACHE/retrieval`` keyed by
the data (images, captions, embeddings) and its own settings, so every model is scored by the same network.

R-precision@1 (the StackGAN / AttnGAN protocol, R = 1): for each query image (real, or generated from its
caption), its own caption must score highest among itself and ``candidates - 1`` captions of *other* emoji
(other groups: never a paraphrase or another skin tone of the same one). Chance is ``1 / candidates``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..fileio import cache_dir, write_text_atomic
from ..nn.text import ImageEmbedder, joint_embedding_loss


@dataclass(frozen=True)
class ScorerSpec:
    size: int = 32  # every image is scored at this side (antialiased resize)
    width: int = 32
    steps: int = 2000
    batch: int = 64
    lr: float = 1e-3
    shift: int = 2  # random translation (pixels) of the training images
    seed: int = 0


def to_size(x: torch.Tensor, size: int) -> torch.Tensor:
    """Float images in [-1, 1] at ``size`` (antialiased when shrinking)."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(
        x.float(), size=(size, size), mode="bilinear", antialias=x.shape[-1] > size, align_corners=False
    )


def _shift(x: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    if not k:
        return x
    dx, dy = (int(v) for v in torch.randint(-k, k + 1, (2,), generator=g))
    return torch.roll(F.pad(x, [k] * 4, value=1.0), (dy, dx), (2, 3))[..., k:-k, k:-k]


def scorer_key(data, spec: ScorerSpec) -> str:
    h = hashlib.sha256(data.fingerprint().encode())
    h.update(data.embeddings.contiguous().numpy().tobytes())
    h.update(json.dumps(asdict(spec), sort_keys=True).encode())
    return h.hexdigest()[:16]


def train_scorer(data, spec: ScorerSpec = ScorerSpec(), log=print) -> ImageEmbedder:
    """The image encoder, trained on ``data``'s real pairs (a caption set with ``embeddings``) and nothing else."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        net = ImageEmbedder(data.embeddings.shape[1], spec.width, data.shape[0])
    opt = torch.optim.Adam(net.parameters(), spec.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, spec.steps)
    g = torch.Generator().manual_seed(spec.seed)
    for step in range(spec.steps):
        b = data.batch(torch.randint(0, len(data), (spec.batch,), generator=g), None, g)
        img = _shift(to_size(b["image"], spec.size), spec.shift, g)
        loss = joint_embedding_loss(net(img), b["emb"], b["group"][:, None] == b["group"][None, :])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == spec.steps - 1:
            log(f"retrieval scorer step {step}: loss {loss.item():.4f}")
    return net.eval()


def scorer(data, spec: ScorerSpec = ScorerSpec(), log=print) -> tuple[ImageEmbedder, dict]:
    """The cached scorer for ``data`` and ``spec`` (trained once, then read), and its card."""
    from safetensors.torch import load_file, save_file

    key = scorer_key(data, spec)
    path = cache_dir() / "retrieval" / f"{key}.safetensors"
    card = {
        "key": key,
        "spec": asdict(spec),
        "trained_on": f"{len(data)} real training images of {data.name} ({data.fingerprint()}) with their captions",
        "used_in_training": "never: scores only",
    }
    net = ImageEmbedder(data.embeddings.shape[1], spec.width, data.shape[0])
    if path.exists():
        net.load_state_dict(load_file(str(path)))
        return net.eval(), card
    net = train_scorer(data, spec, log)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(net.state_dict(), str(tmp))
    tmp.replace(path)
    write_text_atomic(path.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    return net, card


@torch.no_grad()
def embed_images(net: ImageEmbedder, x: torch.Tensor, size: int, batch: int = 256) -> torch.Tensor:
    """Unit vectors in the caption space for float images in [-1, 1] (any side; resized to ``size``)."""
    return torch.cat([net(to_size(x[i : i + batch], size)) for i in range(0, len(x), batch)])


@dataclass
class Queries:
    """One query per item: its first caption (the emoji's CLDR name); the candidate pool holds one caption per key
    (emoji), so the two renderings of an emoji share one pool entry."""

    items: torch.Tensor  # item indices
    emb: torch.Tensor  # the queries' caption embeddings
    groups: torch.Tensor
    pool_emb: torch.Tensor
    pool_groups: torch.Tensor
    captions: list[str]


def queries(data, keys: list[str] | None = None) -> Queries:
    """The items of ``keys`` (every key by default) as queries."""
    want = set(data.keys if keys is None else keys)
    items = [i for i, k in enumerate(data.keys) if k in want]
    caps = [data.item_caps[i][0] for i in items]
    first = {}
    for i, c in zip(items, caps):
        first.setdefault(data.keys[i], (i, c))
    pool = list(first.values())
    return Queries(
        torch.tensor(items),
        data.embeddings[torch.tensor(caps)],
        data.groups[torch.tensor(items)],
        data.embeddings[torch.tensor([c for _, c in pool])],
        data.groups[torch.tensor([i for i, _ in pool])],
        [data.captions[c] for c in caps],
    )


@torch.no_grad()
def r_precision(img_emb: torch.Tensor, q: Queries, candidates: int = 100, seed: int = 0) -> float:
    """Share of queries whose own caption scores highest among itself and ``candidates - 1`` pool captions of other
    groups, drawn at random (``seed``)."""
    g = torch.Generator().manual_seed(seed)
    img = F.normalize(img_emb.float(), dim=1)
    own = (img * q.emb).sum(1)
    hits = 0
    for i in range(img.shape[0]):
        others = torch.nonzero(q.pool_groups != q.groups[i]).flatten()
        pick = others[torch.randperm(len(others), generator=g)[: candidates - 1]]
        hits += int(bool((q.pool_emb[pick] @ img[i] < own[i]).all()))
    return hits / img.shape[0]
