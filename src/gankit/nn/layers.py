"""Stabilising layers of book §1.7 (Salimans et al. 2016, "Improved Techniques for Training GANs") and norm choices."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from ..errors import ConfigError


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (same parameters and state dict) that adds its bias after the convolution on the CPU.

    oneDNN's transposed-convolution backward with a fused bias is about 1.5x slower in channels-last bf16 (its
    bias-gradient path); a separate in-place broadcast add costs a few percent of that. Same maths."""

    def forward(self, x, output_size=None):
        if self.bias is None or output_size is not None or x.device.type != "cpu":
            return super().forward(x, output_size)
        y = F.conv_transpose2d(
            x, self.weight, None, self.stride, self.padding, self.output_padding, self.groups, self.dilation
        )
        return y.add_(self.bias.to(y.dtype).view(1, -1, 1, 1))


class MinibatchDiscrimination(nn.Module):
    """The T-tensor layer (book §1.7.2): M_i = f(x_i) T (A -> B x C); c_b(i, j) = exp(-||M_i,b - M_j,b||_1);
    o(x_i)_b = sum_j c_b(i, j) over the other samples of the minibatch. Returns o(x) (n x B); the caller
    concatenates it with f(x). A batch of identical samples gets o = n - 1 in every kernel, a diverse one less,
    so D can tell a collapsed G's batches from real ones."""

    def __init__(self, in_features: int, kernels: int = 50, kernel_dim: int = 5):
        super().__init__()
        self.B, self.C = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f.flatten(1) @ self.T).view(-1, self.B, self.C)  # n x B x C
        l1 = (m[:, None] - m[None]).abs().sum(-1)  # n x n x B
        return torch.exp(-l1).sum(1) - 1.0  # exclude c_b(i, i) = 1


class MinibatchStd(nn.Module):
    """StyleGAN's minibatch standard deviation (Karras et al. 2018, §3): one more feature map, each sample's group's
    mean standard deviation over its features. Groups are ``group`` *consecutive* samples, so a D batch laid out as
    ``cat([real, fake])`` (with ``group`` dividing each half) never mixes real with fake; a batch whose size
    ``group`` does not divide uses the whole batch as one group. A collapsed G's group has std near 0."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        g = self.group if n % self.group == 0 else n
        y = (x.float().reshape(n // g, g, -1).var(1, correction=0) + 1e-8).sqrt().mean(1)  # one per group
        return torch.cat([x, y.repeat_interleave(g).to(x.dtype).view(n, 1, 1, 1).expand(n, 1, h, w)], 1)


def conv_norm(kind: str, ch: int, momentum: float = 0.1, eps: float = 1e-5) -> list[nn.Module]:
    """``batch`` (BatchNorm2d), ``instance`` (InstanceNorm2d with affine, book §1.7.6: each feature map of each
    sample normalised by its own statistics) or nothing (``none``, ``spectral``: spectral norm wraps the conv)."""
    if kind == "batch":
        return [nn.BatchNorm2d(ch, momentum=momentum, eps=eps)]
    if kind == "instance":
        return [nn.InstanceNorm2d(ch, affine=True, eps=eps)]
    return []


def dense_norm(kind: str, n: int, momentum: float = 0.1, eps: float = 1e-5) -> list[nn.Module]:
    """Dense-layer norms: ``batch`` (BatchNorm1d); ``instance`` has no per-map meaning for a vector, so it is the
    per-sample normalisation over features (LayerNorm)."""
    if kind == "batch":
        return [nn.BatchNorm1d(n, momentum=momentum, eps=eps)]
    if kind == "instance":
        return [nn.LayerNorm(n, eps=eps)]
    return []


class CondBatchNorm2d(nn.Module):
    """Conditional batch norm (de Vries et al. 2017; BigGAN): batch statistics without a learned affine, then a
    per-sample gain ``1 + Wg c`` and bias ``Wb c`` from a conditioning vector ``c`` (a class embedding, and z)."""

    def __init__(self, ch: int, cond_dim: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False, momentum=momentum, eps=eps)
        self.gain = nn.Linear(cond_dim, ch)
        self.bias = nn.Linear(cond_dim, ch)

    def forward(self, x, c):
        return self.bn(x) * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


def maybe_sn(kind: str):
    """Spectral normalisation (Miyato et al. 2018) for the weighted layers when ``kind == "spectral"``."""
    return parametrizations.spectral_norm if kind == "spectral" else (lambda m: m)


class HistoricalAverage:
    """Book §1.7.3: penalty ||theta - (1/t) sum_i theta[i]||^2 against the running mean of a network's past
    parameters (updated after each optimizer step with ``update()``). Not a module: the running mean is a
    training-time statistic, rebuilt from the current weights on resume."""

    def __init__(self, module: nn.Module):
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.mean = [p.detach().clone() for p in self.params]
        self.t = 1

    @torch.no_grad()
    def update(self) -> None:
        self.t += 1
        for m, p in zip(self.mean, self.params):
            m.add_(p.detach() - m, alpha=1.0 / self.t)

    def penalty(self) -> torch.Tensor:
        return sum((p.float() - m.float()).pow(2).sum() for p, m in zip(self.params, self.mean))


def grad_norm(params) -> torch.Tensor:
    """L2 norm of all gradients of a module or an iterable of parameters (a tensor: no host sync)."""
    params = params.parameters() if isinstance(params, nn.Module) else params
    gs = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return torch.stack(gs).norm() if gs else torch.zeros(())


def check_pow2_size(name: str, size: int, stages: int) -> int:
    """Start size of a generator that doubles ``stages`` times to reach ``size``."""
    start = size / 2**stages
    if start < 1 or not float(start).is_integer():
        fit = 2**stages * max(1, math.ceil(size / 2**stages))
        raise ConfigError(
            f"{name}: image size {size} is not a multiple of 2^{stages} "
            f"(use data.size={fit} or change the number of stages)"
        )
    return int(start)
