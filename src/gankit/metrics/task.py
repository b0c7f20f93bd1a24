"""Per-task metrics for the translation / super-resolution families and training diagnostics.

Inputs are gankit images: float N x C x H x W in [-1, 1]. PSNR and SSIM follow the super-resolution convention
(``y=True``: the BT.601 luma of MATLAB's ``rgb2ycbcr``, on [0, 1]; ``crop``: pixels dropped at every border, usually
the scale factor). ``speckle_ratio``: high-frequency (Laplacian) energy of generated images over real ones, the
measure of pixel noise (speckle). LPIPS (Zhang et al. 2018) loads its backbone and linear-layer weights from files
the user gives.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GankitError


def _prep(x: torch.Tensor, y: bool, crop: int, quantize: bool = False) -> torch.Tensor:
    x = (x.float().clamp(-1, 1) + 1) / 2  # [0, 1]
    if quantize:  # score what a saved 8-bit PNG holds (the SR papers' convention)
        x = (x * 255).round() / 255
    if y:
        if x.shape[1] == 3:
            w = torch.tensor([65.481, 128.553, 24.966], device=x.device).view(1, 3, 1, 1)
            x = (x * w).sum(1, keepdim=True).add(16.0).div(255.0)
        # a single channel is its own luma
    if crop:
        x = x[..., crop:-crop, crop:-crop]
    return x


def psnr(a: torch.Tensor, b: torch.Tensor, y: bool = True, crop: int = 0, reduce: bool = True, quantize: bool = False):
    """Peak signal-to-noise ratio in dB on [0, 1] images (per image, then averaged when ``reduce``);
    ``quantize`` rounds both to 8 bits first."""
    if a.shape != b.shape:
        raise GankitError(f"psnr: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    a, b = _prep(a, y, crop, quantize), _prep(b, y, crop, quantize)
    mse = (a - b).double().pow(2).flatten(1).mean(1)
    val = 10 * torch.log10(1.0 / mse.clamp_min(1e-20))
    return val.mean().item() if reduce else val


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The normalised 1-D Gaussian; the 2-D window is its outer product, applied as two 1-D passes."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    y: bool = True,
    crop: int = 0,
    reduce: bool = True,
    window: int = 11,
    sigma: float = 1.5,
    quantize: bool = False,
):
    """Structural similarity (Wang et al. 2004): 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, data
    range 1, 'valid' filtering; the mean SSIM map per image (RGB: the mean over channels)."""
    if a.shape != b.shape:
        raise GankitError(f"ssim: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    a, b = _prep(a, y, crop, quantize).double(), _prep(b, y, crop, quantize).double()
    if min(a.shape[-2:]) < window:
        raise GankitError(f"ssim: images of {tuple(a.shape[-2:])} px are smaller than the {window}px window")
    c = a.shape[1]
    g = _gauss(window, sigma).to(a.device)
    kh, kv = g.view(1, 1, 1, window).expand(c, 1, 1, window), g.view(1, 1, window, 1).expand(c, 1, window, 1)
    f = lambda x: F.conv2d(F.conv2d(x, kh, groups=c), kv, groups=c)  # noqa: E731  (separable: 3x faster, same sums)
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = f(a), f(b)
    var_a = f(a * a) - mu_a**2
    var_b = f(b * b) - mu_b**2
    cov = f(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    val = m.flatten(1).mean(1)
    return val.mean().item() if reduce else val


@torch.no_grad()
def d_accuracy(
    D, real: torch.Tensor, fake: torch.Tensor, kind: str = "bce", batch: int = 500, label: torch.Tensor | None = None
) -> dict:
    """Share of real images D calls real and of fake images it calls fake (seed 000's report), in eval mode.
    ``label``: the class of each pair real[i], fake[i] for a conditional D (called as ``D(x, label)``)."""
    from ..losses import d_accuracy as acc

    def logits(x):
        if label is None:
            return torch.cat([D(c).flatten() for c in x.split(batch)])
        return torch.cat([D(c, l).flatten() for c, l in zip(x.split(batch), label.split(batch))])

    was = D.training
    D.eval()
    try:
        lr, lf = logits(real), logits(fake)
    finally:
        D.train(was)
    r, f = acc(lr, lf, kind)
    return {"D/acc_real": r.item(), "D/acc_fake": f.item()}


# --------------------------------------------------------------------------- speckle


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def high_frequency_energy(x: torch.Tensor) -> torch.Tensor:
    """Per image: the mean squared response of the 3x3 Laplacian over every channel and interior pixel (images in
    [-1, 1]). Flat regions and smooth gradients score 0; pixel-scale noise scores high (white noise of std s adds
    about 20 s^2), while an outline adds only along its length."""
    x = x.detach().float()
    c = x.shape[1]
    k = _LAPLACIAN.to(x.device)[None, None].expand(c, 1, 3, 3)
    return F.conv2d(x, k, groups=c).pow(2).flatten(1).mean(1)


def speckle_ratio(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean high-frequency energy of ``fake`` over that of ``real`` (the same kind of images): ~1 for outputs as
    sharp as the data, well above 1 for speckled outputs (pixel noise), below 1 for blurred ones."""
    return float(high_frequency_energy(fake).mean() / high_frequency_energy(real).mean().clamp_min(1e-12))


# --------------------------------------------------------------------------- LPIPS


_LPIPS_NETS = {  # backbone slices ending at each ReLU LPIPS reads, and their channels
    "alex": ([(0, 2), (2, 5), (5, 8), (8, 10), (10, 12)], [64, 192, 384, 256, 256]),
    "vgg": ([(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)], [64, 128, 256, 512, 512]),
}


def _alex_features() -> nn.Sequential:
    """torchvision's AlexNet ``features`` (same layer indices, so its state dict keys load unchanged)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
    )


class _Lin(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(ch, 1, 1, bias=False))  # key layout of lpips' files


class LPIPS(nn.Module):
    """Learned perceptual distance. ``backbone``: a torchvision ``alexnet``/``vgg16`` state dict file (keys
    ``features.N.*``); ``lin``: the LPIPS v0.1 linear-layer file (``lin0.model.1.weight`` ...). Both are required
    unless ``random_weights=True`` (plumbing tests only: the numbers then mean nothing)."""

    def __init__(
        self,
        net: str = "alex",
        backbone: str | Path | None = None,
        lin: str | Path | None = None,
        random_weights: bool = False,
    ):
        super().__init__()
        import torchvision

        if net not in _LPIPS_NETS:
            raise GankitError(f"lpips: net must be alex or vgg, got '{net}'")
        if not random_weights and (backbone is None or lin is None):
            raise GankitError(
                "lpips needs weights files: the backbone (torchvision alexnet/vgg16 state dict) and the "
                "LPIPS linear layers (lpips weights/v0.1/<net>.pth); no weights are downloaded"
            )
        feats = (
            _alex_features() if net == "alex" else torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
        )  # vgg16's features (no classifier: 120M parameters we never use)
        slices, chans = _LPIPS_NETS[net]
        self.slices = nn.ModuleList(nn.Sequential(*[feats[i] for i in range(a, b)]) for a, b in slices)
        for i, ch in enumerate(chans):
            setattr(self, f"lin{i}", _Lin(ch))
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        if backbone is not None:
            sd = self._load(backbone)
            sd = {k[len("features.") :]: v for k, v in sd.items() if k.startswith("features.")} or sd
            idx = {i: (s, i - a) for s, (a, b) in enumerate(slices) for i in range(a, b)}
            mapped = {}
            for k, v in sd.items():
                i, rest = k.split(".", 1)
                if int(i) in idx:
                    s, j = idx[int(i)]
                    mapped[f"{s}.{j}.{rest}"] = v
            self._apply_state(self.slices, mapped, backbone)
        if lin is not None:
            sd = self._load(lin)
            self._apply_state(self, {k: v for k, v in sd.items() if k.startswith("lin")}, lin, strict_subset=True)
        self.eval().requires_grad_(False)

    @staticmethod
    def _load(path) -> dict:
        p = Path(path).expanduser()
        if not p.is_file():
            raise GankitError(f"lpips weights not found: {p}")
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(p))
        try:
            return torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:
            raise GankitError(f"{p}: not a loadable state dict ({str(e).splitlines()[0]})") from None

    @staticmethod
    def _apply_state(module: nn.Module, sd: dict, path, strict_subset: bool = False):
        own = module.state_dict()
        if strict_subset:
            own = {k: v for k, v in own.items() if k.startswith("lin")}
        missing = [k for k in own if k not in sd]
        if missing or not sd:
            raise GankitError(f"{path}: does not hold the expected LPIPS weights (missing {', '.join(missing[:3])})")
        module.load_state_dict(sd, strict=False)

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-image distance of two [-1, 1] image batches (greyscale is replicated to RGB)."""
        if a.shape != b.shape:
            raise GankitError(f"lpips: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
        if a.shape[1] == 1:
            a, b = a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)
        ha, hb = (a.float() - self.shift) / self.scale, (b.float() - self.shift) / self.scale
        total = 0
        for i, sl in enumerate(self.slices):
            ha, hb = sl(ha), sl(hb)
            na = ha / (ha.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = hb / (hb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + getattr(self, f"lin{i}").model(  # dropout is inactive in eval mode
                (na - nb) ** 2
            ).mean((2, 3))
        return total.flatten()
