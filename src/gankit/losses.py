"""GAN losses on raw discriminator outputs (logits), one function per objective.

``d_real(kind, out, target)``, ``d_fake(kind, out, target)`` and ``g_loss(kind, out)`` return scalars for the
objectives ``bce`` (non-saturating G), ``minimax`` (G minimises log(1 - D(G(z)))), ``ls`` (least squares),
``hinge`` and ``wgan`` (use with ``gradient_penalty``: WGAN-GP); ``r1_penalty``, ``feature_matching`` and
``targets`` (one-sided smoothing, noisy labels) complete the toolbox.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSS_NAMES = ("bce", "minimax", "ls", "hinge", "wgan")


def _target(x: torch.Tensor, value) -> torch.Tensor:
    return value.expand_as(x).to(x.dtype) if torch.is_tensor(value) else torch.full_like(x, float(value))


def d_real(kind: str, real: torch.Tensor, target=1.0) -> torch.Tensor:
    """D's loss on real samples."""
    real = real.float()
    if kind in ("bce", "minimax"):
        return F.binary_cross_entropy_with_logits(real, _target(real, target))
    if kind == "ls":
        return F.mse_loss(real, _target(real, target))
    if kind == "hinge":
        return F.relu(1.0 - real).mean()
    if kind == "wgan":
        return -real.mean()
    raise ValueError(f"unknown loss {kind!r} (have {', '.join(LOSS_NAMES)})")


def d_fake(kind: str, fake: torch.Tensor, target=0.0) -> torch.Tensor:
    """D's loss on generated samples."""
    fake = fake.float()
    if kind in ("bce", "minimax"):
        return F.binary_cross_entropy_with_logits(fake, _target(fake, target))
    if kind == "ls":
        return F.mse_loss(fake, _target(fake, target))
    if kind == "hinge":
        return F.relu(1.0 + fake).mean()
    if kind == "wgan":
        return fake.mean()
    raise ValueError(f"unknown loss {kind!r} (have {', '.join(LOSS_NAMES)})")


def g_loss(kind: str, fake: torch.Tensor, target=1.0) -> torch.Tensor:
    """G's loss. ``bce`` is the non-saturating -log D(G(z)); ``minimax`` is the original log(1 - D(G(z)))."""
    fake = fake.float()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, _target(fake, target))
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "ls":
        return F.mse_loss(fake, _target(fake, target))
    if kind in ("hinge", "wgan"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r} (have {', '.join(LOSS_NAMES)})")


def d_accuracy(real: torch.Tensor, fake: torch.Tensor, kind: str = "bce") -> tuple[torch.Tensor, torch.Tensor]:
    """Fraction of real judged real and fake judged fake (threshold 0 on logits, 0.5 for least squares); for the
    relativistic pairing loss (``rp``), which has no threshold, the fraction of pairs D ranks right, on both sides."""
    if kind == "rp":
        pairs = (real.float() > fake.float()).float().mean()
        return pairs, pairs
    t = 0.5 if kind == "ls" else 0.0
    return (real.float() > t).float().mean(), (fake.float() <= t).float().mean()


# --------------------------------------------------------------------------- penalties and auxiliary losses


def gradient_penalty(
    D, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None, center: float = 1.0, **d_kwargs
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al.): E[(||grad_x D(x_hat)|| - center)^2] on random interpolates x_hat of real and fake.

    ``D`` is called as ``D(x_hat, **d_kwargs)`` (a conditional critic gets its labels that way)."""
    n = real.shape[0]
    alpha = torch.rand(n, *([1] * (real.dim() - 1)), generator=generator, device=real.device, dtype=real.dtype)
    x = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = D(x, **d_kwargs)
    (grad,) = torch.autograd.grad(out.float().sum(), x, create_graph=True)
    return ((grad.flatten(1).float().norm(dim=1) - center) ** 2).mean()


def r1_penalty(real_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E[||grad_x D(x)||^2] on real samples; ``real`` must require grad and
    ``real_out = D(real)``. Multiply by gamma / 2 at the call site."""
    (grad,) = torch.autograd.grad(real_out.float().sum(), real, create_graph=True)
    return grad.flatten(1).float().pow(2).sum(1).mean()


def mode_seeking_halves(t: torch.Tensor) -> torch.Tensor:
    """MSGAN's pairing: ``t`` with its second half a copy of its first (an odd last element kept), so the two halves
    of G's batch share their classes (and, for the relativistic loss, their reals)."""
    n = t.shape[0]
    return torch.cat([t[: n // 2]] * 2 + [t[2 * (n // 2) :]])


def mode_seeking(fake: torch.Tensor, z: torch.Tensor, weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """MSGAN (Mao et al. 2019): the ratio of the image distance between the two halves of G's batch to their latent
    distance, and G's extra loss ``weight / ratio`` (a G that ignores z pays ``weight / eps``)."""
    h = fake.shape[0] // 2
    ratio = (fake[:h] - fake[h : 2 * h]).abs().mean() / (z[:h] - z[h : 2 * h]).abs().mean()
    return weight / (ratio.float() + 1e-5), ratio


def feature_matching(f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    """Salimans et al. (book §1.7.1): ||E f(x) - E f(G(z))||^2 over an intermediate layer of D (mean over units)."""
    return (f_real.detach().float().flatten(1).mean(0) - f_fake.float().flatten(1).mean(0)).pow(2).mean()


def targets(
    n: int,
    value: float,
    noise: float = 0.0,
    flip: float = 0.0,
    flip_to: float | None = None,
    generator: torch.Generator | None = None,
    device=None,
) -> torch.Tensor | float:
    """Label targets for D (book §1.7.4 and ch.4). ``value`` alone is constant (1.0 hard, 0.9 one-sided smoothing);
    ``noise`` > 0 draws each target uniformly from an interval of that width next to ``value`` on the side
    towards 0.5 (real 1.0 with noise 0.2 -> (0.8, 1.0]; fake 0.0 -> [0, 0.2)); ``flip`` swaps that fraction of
    targets to ``flip_to`` (noisy labels)."""
    if noise <= 0 and flip <= 0:
        return value
    t = torch.full((n, 1), float(value), device=device)
    if noise > 0:
        u = torch.rand(n, 1, generator=generator, device=device) * noise
        t = t - u if value > 0.5 else t + u
    if flip > 0:
        m = torch.rand(n, 1, generator=generator, device=device) < flip
        t = torch.where(m, torch.full_like(t, 1.0 - value if flip_to is None else flip_to), t)
    return t


# --------------------------------------------------------------------------- relativistic pairing (R3GAN)


def rp_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's relativistic pairing loss (Jolicoeur-Martineau 2019; R3GAN): E softplus(-(D(x) - D(G(z)))), each real
    paired with one fake."""
    return F.softplus(-(real.float() - fake.float())).mean()


def rp_g(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """G's relativistic pairing loss: E softplus(-(D(G(z)) - D(x)))."""
    return F.softplus(-(fake.float() - real.float())).mean()


def zero_centered_gp(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample ||grad_x D(x)||^2 from one backward of ``out.sum()`` (``x`` must require grad): R1 on the reals
    and R2 on the fakes (Mescheder et al. 2018; R3GAN) when ``x`` holds both. Weight by gamma / 2 at the call
    site."""
    (grad,) = torch.autograd.grad(out.float().sum(), x, create_graph=True)
    return grad.flatten(1).float().pow(2).sum(1)


def matching_aware_gp(
    out: torch.Tensor, image: torch.Tensor, text: torch.Tensor, k: float = 2.0, p: float = 6.0
) -> torch.Tensor:
    """DF-GAN's matching-aware gradient penalty (Tao et al. 2022): ``k * E ||(grad_x D(x, e), grad_e D(x, e))||^p``
    on real images with their own captions, the gradient taken with respect to both the image and the caption
    embedding (both must require grad; ``out = D(image, text)``). The paper's k = 2, p = 6."""
    gx, ge = torch.autograd.grad(out.float().sum(), (image, text), create_graph=True)
    g = torch.cat([gx.flatten(1), ge.flatten(1)], 1).float()
    return k * g.norm(dim=1).pow(p).mean()
