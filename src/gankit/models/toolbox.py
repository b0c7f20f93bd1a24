"""The training toolbox shared by the image recipes (mlp-gan, dcgan, lsgan, cgan): one GAN step with every
option of book ch.1 §1.7 and modern practice, and the critic wrapper that gives any D body minibatch
discrimination, feature outputs (feature matching) and a class projection.

Options (all off here, so the seeds' ``tutorial`` presets are the seeds' nets and steps; a family's ``@defaults``
turns on what its ``default`` preset uses):
- ``loss``: bce (non-saturating) | minimax | ls | hinge | wgan | rp (relativistic pairing, R3GAN: each real paired
  with one fake, D(x) - D(G(z)) through softplus; G's side is re-scored on the same reals after D's step);
  ``gp``: WGAN-GP weight; ``r1``: R1 gamma;
  ``n_critic``: D steps per G step (G is updated on every n_critic-th trainer step, each D step on a fresh batch).
- labels: ``real_label`` (0.9 = one-sided smoothing), ``fake_label``, ``label_noise`` (book ch.4: real in
  (0.8, 1], fake in [0, 0.2) with 0.2), ``label_flip`` (fraction of D's targets swapped), ``g_label`` (G's target
  for bce/ls; the book's companion repo trains G on 0.9).
- ``feature_matching``: weight of ||E f(x) - E f(G(z))||^2 on D's last hidden features, added to G's loss.
- ``minibatch_disc`` / ``minibatch_dim``: B kernels of dimension C of the T-tensor layer in D's head.
- ``historical_avg``: weight of ||theta - mean theta||^2 for G and D.
- ``diffaug``: "color,translation,cutout" (any subset) applied to everything D sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .. import losses
from ..config import added
from ..errors import ConfigError
from ..nn import HistoricalAverage, diff_augment
from ..nn import augment as _aug
from .base import Recipe, frozen

LossKind = Literal["bce", "minimax", "ls", "hinge", "wgan", "rp"]


@dataclass
class Toolbox:
    loss: LossKind = "bce"
    gp: float = 0.0
    r1: float = 0.0
    n_critic: int = 1
    real_label: float = 1.0
    fake_label: float = 0.0
    label_noise: float = 0.0
    label_flip: float = 0.0
    g_label: float = 1.0
    feature_matching: float = 0.0
    minibatch_disc: int = 0
    minibatch_dim: int = 5
    historical_avg: float = 0.0
    diffaug: str = ""
    d_split_steps: bool = False  # two D optimizer steps per iteration (real half-batch, then fake)
    reuse_fakes: bool = added(False)  # D's fakes are the first of G's training batch (one G forward per step, as
    #                            PyTorch's DCGAN example does) instead of a separate no-grad batch
    g_batch_mult: int = 1  # G's batch is this many times D's batch
    # MSGAN (Mao et al. 2019): weight of 1 / (|G(z1,y) - G(z2,y)| / |z1 - z2|) in G's loss
    mode_seeking: float = added(0.0)


def validate_toolbox(o) -> None:
    if o.n_critic < 1:
        raise ConfigError(f"model.n_critic must be >= 1, got {o.n_critic}")
    if o.g_batch_mult < 1:
        raise ConfigError(f"model.g_batch_mult must be >= 1, got {o.g_batch_mult}")
    if not 0 <= o.label_noise < 0.5 or not 0 <= o.label_flip < 0.5:
        raise ConfigError("model.label_noise and model.label_flip must be in [0, 0.5)")
    if not 0.5 < o.g_label <= 1:
        raise ConfigError(f"model.g_label (G's target) must be in (0.5, 1], got {o.g_label}")
    if o.minibatch_disc < 0 or o.minibatch_dim < 1:
        raise ConfigError("model.minibatch_disc must be >= 0 and model.minibatch_dim >= 1")
    for k in ("gp", "r1", "feature_matching", "historical_avg", "mode_seeking"):
        if getattr(o, k) < 0:
            raise ConfigError(f"model.{k} must be >= 0, got {getattr(o, k)}")
    if o.loss == "rp" and (
        o.d_split_steps or o.real_label != 1 or o.fake_label != 0 or o.label_noise or o.label_flip or o.g_label != 1
    ):
        raise ConfigError(
            "model.loss=rp pairs each real with a fake in one D step and has no targets: set "
            "model.d_split_steps=false and leave the label options at their defaults"
        )
    if o.gp and o.d_split_steps:
        raise ConfigError("model.gp needs real and fake in one D step: set model.d_split_steps=false")
    if o.loss == "wgan" and not o.gp and getattr(o, "d_norm", "spectral") != "spectral":
        raise ConfigError(
            "model.loss=wgan needs a Lipschitz critic: set model.gp=10 (WGAN-GP) or model.d_norm=spectral"
        )
    if o.gp and getattr(o, "d_norm", "none") == "batch":
        raise ConfigError(
            "model.gp with model.d_norm=batch: the gradient penalty is per sample, batch norm mixes "
            "samples (use d_norm=none, instance or spectral)"
        )
    try:
        _aug.parse(o.diffaug)
    except ValueError as e:
        raise ConfigError(f"model.diffaug: {e}") from None


@dataclass
class Fakes:
    """One step's generated batches: D's (detached) fakes and their labels; G's batch when it was drawn already."""

    fake: torch.Tensor
    fake_lab: torch.Tensor | None
    g_fake: torch.Tensor | None = None
    g_lab: torch.Tensor | None = None
    g_z: torch.Tensor | None = None


class GANRecipe(Recipe):
    """A G/D recipe trained with the toolbox step. Subclasses build ``G`` (``G(z, label)``) and ``D``
    (a ``Critic``)."""

    @classmethod
    def validate(cls, cfg):
        validate_toolbox(cfg.model)

    def generate(self, G, z, label=None):
        return G(z, label)

    def frozen_critic(self):
        """The context G's loss is computed in: D's weights get no gradients (a family may keep some trainable)."""
        return frozen(self.D)

    def _aug(self, x):
        return diff_augment(x, self.opts.diffaug, self.gen) if self.opts.diffaug else x

    def _D(self, net, x, label, features=False):
        return net(self._aug(x), label, features=features)

    def _targets(self, n, value):
        o = self.opts
        return losses.targets(n, value, o.label_noise, o.label_flip, generator=self.gen, device=self.device)

    def after_update(self, name):
        if name in self._hist:
            self._hist[name].update()

    @property
    def _hist(self) -> dict:
        if not hasattr(self, "_hist_avg"):  # built lazily: after a resume has loaded the weights
            self._hist_avg = (
                {n: HistoricalAverage(getattr(self, n)) for n in ("G", "D")} if self.opts.historical_avg else {}
            )
        return self._hist_avg

    def train_step(self, batch):
        o = self.opts
        real, lab = batch["image"], (batch.get("label") if self.conditional else None)
        if o.r1:
            real = real.detach().requires_grad_(True)
        f = self.fakes(real.shape[0], lab)
        f_real = self.d_phase(real, lab, f)
        if self.step % o.n_critic == o.n_critic - 1:  # n_critic D steps per G step
            self.g_phase(f, f_real, real.detach() if o.loss == "rp" else None, lab)

    # ---- the phases ---------------------------------------------------------------------------
    def fakes(self, n: int, lab) -> "Fakes":
        """D's fakes for this step. With ``reuse_fakes`` one G forward serves both phases: D trains on the
        (detached) first ``n`` of G's batch; otherwise D gets a separate no-grad batch of the real batch's classes."""
        o = self.opts
        if o.reuse_fakes and o.n_critic == 1:
            g_z, g_lab, g_fake = self.g_batch(n * o.g_batch_mult)
            return Fakes(g_fake[:n].detach(), None if g_lab is None else g_lab[:n], g_fake, g_lab, g_z)
        fake_lab = lab if lab is not None else self.random_labels(n)
        with torch.no_grad():
            fake = self.G(self.latent(n), fake_lab)
        return Fakes(fake, fake_lab)

    def d_phase(self, real, lab, f: "Fakes"):
        """D main + regularisers; returns D's features of the real batch (for feature matching)."""
        o, n = self.opts, real.shape[0]
        t_real, t_fake = self._targets(n, o.real_label), self._targets(n, o.fake_label)
        if o.d_split_steps:  # the seeds: one D update on a real half-batch, another on a fake one
            lr, f_real = self._D(self.w.D, real, lab, features=True)
            d_r = losses.d_real(o.loss, lr, t_real)
            self.update("D", d_r + self.r1_term(lr, real) + self._ha("D", 0.5))
            lf = self._D(self.w.D, f.fake, f.fake_lab)
            d_f = losses.d_fake(o.loss, lf, t_fake)
            self.update("D", d_f + self._ha("D", 0.5))
        else:
            lr, lf, f_real = self.d_logits(real, lab, f)
            if o.loss == "rp":  # one paired term: reported as D's loss on both sides
                d_r = d_f = losses.rp_d(lr, lf)
                main = d_r
            else:
                d_r = losses.d_real(o.loss, lr, t_real)
                d_f = losses.d_fake(o.loss, lf, t_fake)
                main = d_r + d_f
            self.update("D", main + self.r1_term(lr, real) + self._ha("D") + self.gp_term(real, f.fake, lab))
        self.report("loss/D_real", d_r.detach())
        self.report("loss/D_fake", d_f.detach())
        acc_r, acc_f = losses.d_accuracy(lr.detach(), lf.detach(), o.loss)
        self.report("D/acc_real", acc_r)
        self.report("D/acc_fake", acc_f)
        self.report("D/logit_gap", lr.detach().float().mean() - lf.detach().float().mean())
        return f_real

    def g_phase(self, f: "Fakes", f_real, real=None, lab=None) -> None:
        """G main + feature matching + historical averaging (``real``: the batch G's fakes are paired with, rp)."""
        o = self.opts
        if f.g_fake is None:
            f.g_z, f.g_lab, f.g_fake = self.g_batch(f.fake.shape[0] * o.g_batch_mult)
        with self.frozen_critic():
            out, f_fake = self._D(self.D, f.g_fake, f.g_lab, features=True)
            if o.loss == "rp":  # D(x) of the same reals under the updated D, scored once; a bigger G batch reuses
                with torch.no_grad():  # the scores in turn
                    ref = self._D(self.D, real, lab)
                k = -(-out.shape[0] // ref.shape[0])
                g = losses.rp_g(ref.repeat(k, *[1] * (ref.dim() - 1))[: out.shape[0]], out)
            else:
                g = losses.g_loss(o.loss, out, o.g_label)
            self.report("loss/G_adv", g.detach())
            g = g + self.fm_term(f_real, f_fake) + self._ha("G") + self.ms_term(f.g_fake, f.g_z)
        self.update("G", g)
        self.report("loss/G", g.detach())

    # ---- the pieces the phases compose --------------------------------------------------------
    def g_batch(self, m: int):
        """G's training batch: latents, classes and images. With mode seeking the two halves share their classes."""
        lab = self.random_labels(m)
        if self.opts.mode_seeking and lab is not None and m >= 2:
            lab = losses.mode_seeking_halves(lab)
        z = self.latent(m)
        return z, lab, self.w.G(z, lab)

    def ms_term(self, fake, z):
        """Mode seeking (MSGAN): the first and second halves of G's batch share their classes; G is rewarded for
        making images that differ as much as their latents do (a G that ignores z pays 1 / eps)."""
        o = self.opts
        if not o.mode_seeking or fake.shape[0] < 2:
            return 0.0
        term, ratio = losses.mode_seeking(fake, z, o.mode_seeking)
        self.report("loss/G_ms_ratio", ratio.detach())
        return term

    def d_logits(self, real, lab, f: "Fakes"):
        """D's logits on real and fake and its features of the real batch: one forward over both when nothing in D
        mixes samples (same maths, bigger and faster GEMMs)."""
        n = real.shape[0]
        if self._joint_ok:
            out, feats = self._D(
                self.w.D,
                torch.cat([real, f.fake]),
                None if lab is None else torch.cat([lab, f.fake_lab]),
                features=True,
            )
            lr, lf = out.split([n, n])
            return lr, lf, feats[:n]
        lr, f_real = self._D(self.w.D, real, lab, features=True)
        return lr, self._D(self.w.D, f.fake, f.fake_lab), f_real

    def r1_term(self, lr, real):
        """R1 (gamma / 2 * E||grad D(x)||^2 on reals); 0 when ``r1`` is off."""
        if not self.opts.r1:
            return 0.0
        r1 = losses.r1_penalty(lr, real)
        self.report("loss/D_r1", r1.detach())
        return 0.5 * self.opts.r1 * r1

    def gp_term(self, real, fake, lab):
        """WGAN-GP weight * penalty on interpolates; 0 when ``gp`` is off."""
        if not self.opts.gp:
            return 0.0
        gp = losses.gradient_penalty(lambda x: self.w.D(self._aug(x), lab), real, fake, self.gen)
        self.report("loss/D_gp", gp.detach())
        return self.opts.gp * gp

    def fm_term(self, f_real, f_fake):
        """Feature matching weight * ||E f(x) - E f(G(z))||^2; 0 when off."""
        if not self.opts.feature_matching:
            return 0.0
        fm = losses.feature_matching(f_real, f_fake)
        self.report("loss/G_fm", fm.detach())
        return self.opts.feature_matching * fm

    @property
    def _joint_ok(self) -> bool:
        """Real and fake may share one D forward when nothing in D mixes samples (batch norm, minibatch
        discrimination)."""
        if not hasattr(self, "_joint"):
            mixes = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())
            self._joint = not mixes and not self.opts.minibatch_disc
        return self._joint

    def _ha(self, name, scale=1.0):
        if not self.opts.historical_avg:
            return 0.0
        p = self._hist[name].penalty()
        self.report(f"loss/{name}_hist", p.detach())
        return scale * self.opts.historical_avg * p
