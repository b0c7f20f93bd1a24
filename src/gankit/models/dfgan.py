"""DF-GAN, text to image in one stage (Tao et al., CVPR 2022; official code tobran/DF-GAN), small, for emoji.

G draws an image from (z, caption embedding): the caption (with z) predicts a channel-wise affine in every block
(``nn/dfgan.py``; each starts as the identity). D's one-way head scores (image, caption) together, with the hinge
loss: (real, its caption) real; (generated, its caption) and (real, another emoji's caption) fake, and the
matching-aware gradient penalty on (real image, its caption), its gradient taken on the image and the caption:

    L_D = relu(1 - D(x, e)) + (relu(1 + D(G(z, e), e)) + relu(1 + D(x, e'))) / 2 + k E||grad_(x, e) D(x, e)||^p
    L_G = -D(G(z, e), e)

with Adam at G 1e-4 / D 4e-4, betas (0, 0.9) in the paper (``-p paper``). What small data needs, from this
project's toolbox: DiffAugment on everything D sees, an EMA of G (``train.ema``), MSGAN's mode seeking (the two
halves of G's batch share their captions), and a projection term in D's head.

``adversarial: false`` is the non-adversarial baseline: the same G regressing the caption's real image with L1
(``-p regression``): it proves the conditioning path (caption -> image) before any GAN is involved.

The default departs from the paper where a CPU-minute budget needs it (``-p paper`` is the paper's settings): G's
4 x 4 start map sees the caption too (``fc_text``), G also regresses the real image (``l1``; ``l1_size`` pools both
first, ``l1_until`` anneals its weight to 0 by step, and ``text_norm`` centres and whitens the caption vectors:
options, off by default, measured in docs/text2img.md), D is half as wide, the MA-GP is lazy (every 4th step, 4x
the weight) and Adam runs at 1e-3 / (0.5, 0.999) for G and D.

Captions are embedded once by the frozen ``model.text_encoder`` (``minilm``, or the weight-free ``ngrams`` for
tests); inference goes through ``gankit.pipelines.TextPipeline`` (``modality = "text"``: ``encoder``, ``noise``,
``draw``), so ``gankit text2img``, the studio and ``gankit export`` use a dfgan checkpoint as they use stackgan's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..config import added
from ..errors import ConfigError, DataError
from ..nn import augment as _aug
from ..nn import diff_augment
from ..nn.dfgan import Discriminator, Generator
from ..nn.text import MINILM_DIM, text_encoder
from .base import Recipe, eval_mode, frozen

TEXT_DIMS = {"minilm": MINILM_DIM, "ngrams": 256}
L1_REACH = 0.98  # L1 targets stay inside tanh's range


@dataclass
class Options:
    text_encoder: Literal["minilm", "ngrams"] = "minilm"
    text_dim: int = 0  # caption embedding size; 0: the encoder's (minilm 384, ngrams 256)
    latent_dim: int = 100
    g_features: int = 32  # base width f: G 8f at 4 x 4 down to f at full size, D mirrors it
    d_features: int = 16  # (the paper: D as wide as G; half is cheaper per CPU-minute)
    g_norm: bool = (
        True  # PixelNorm at the input of each G block (DF-GAN has none; without it G saturates above lr 1e-4)
    )
    fc_text: bool = True  # G's 4 x 4 start map from [z, caption] (DF-GAN: z alone, the caption only in the affines;
    #                       with it the regression baseline retrieves 3x better per CPU-minute: a layout per caption)
    adversarial: bool = True  # false: the regression baseline (G alone, L1 to the caption's real image)
    l1: float = 1.0  # weight of L1(G(z, e), the caption's real image) in G's loss (the paper: 0; a CPU-minute aid)
    ma_gp: float = 2.0  # k of the matching-aware gradient penalty (0: off)
    ma_gp_power: float = 6.0  # p
    ma_gp_every: int = 4  # lazy: the penalty every N-th D step, times N (the paper: 1; the GP costs a third of a step)
    wrong_weight: float = 0.5  # L_D = real + w * (fake + mismatched); DF-GAN: 0.5
    diffaug: str = (
        "translation,cutout"  # DiffAugment policy on everything D sees ("color,translation,cutout" or a subset)
    )
    projection: bool = False  # + <W e, mean-pooled features> in D's head
    mode_seeking: float = 0.0  # MSGAN weight (G's batch halves share captions); at 4 CPU-minutes 0.005-1 made seeds
    #                            differ but cost most of the retrieval (docs/text2img.md): off
    text_scale: float = 0.0  # the nets see caption vectors times this; 0: sqrt(text_dim) (text_norm none), so the
    #                          unit-length embeddings' components have unit variance as z's do (else z drowns the
    #                          caption), or 1 (text_norm centre/whiten: already unit variance)
    text_norm: Literal["none", "center", "whiten"] = added("none")  # caption vectors centred on the training
    #   captions' mean and whitened (nn.dfgan.TextNorm, saved with G): MiniLM's vectors share a large component beside
    #   which colour words move them little; at 4 CPU-minutes it did not measurably help (docs/text2img.md): off
    l1_until: int = added(0)  # the L1 weight falls linearly from model.l1 at step 0 to 0 at this step, after which
    #   the adversary and MA-GP alone train G (L1 pins G to the caption's mean image, so G learns to ignore z); 0: kept
    #   (at lr 1e-3, 4 CPU-minutes, G saturated to flat yellow once the L1 was gone: docs/text2img.md)
    l1_z0: bool = added(False)  # the L1 only on a quarter of G's batch, drawn at z = 0: the caption's mean image is
    #   pinned at z = 0 and every other z is left to the adversary (against the within-caption collapse)
    l1_size: int = added(0)  # L1 between G's image and the real one average-pooled to this size (0: full size), to
    #   leave the detail to z and the adversary; at 4 CPU-minutes the seeds still drew near-identical images: off


class DFGAN(Recipe):
    name = "dfgan"
    modality = "text"
    Options = Options
    ema_nets = ("G",)

    def __init__(self, cfg, shape, num_classes=0, device="cpu"):
        self.nets = ("G", "D") if cfg.model.adversarial else ("G",)
        self._encoder = None
        super().__init__(cfg, shape, num_classes, device)

    # ---------------------------------------------------------------- config and data
    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        if o.text_encoder not in TEXT_DIMS:
            raise ConfigError(
                f"model.text_encoder: dfgan embeds captions with {' or '.join(TEXT_DIMS)}, got {o.text_encoder!r}"
            )
        if not o.text_dim:
            o.text_dim = TEXT_DIMS[o.text_encoder]
        if o.text_encoder == "minilm" and o.text_dim != MINILM_DIM:
            raise ConfigError(f"model.text_dim={o.text_dim}: minilm embeddings have {MINILM_DIM} dimensions")
        size = cfg.data.size or 32
        if size < 8 or size & (size - 1):
            raise ConfigError(f"data.size={size}: dfgan draws power-of-two sizes >= 8")
        for k in ("g_features", "d_features", "latent_dim", "text_dim", "ma_gp_every"):
            if getattr(o, k) < 1:
                raise ConfigError(f"model.{k} must be >= 1, got {getattr(o, k)}")
        if o.l1_size and (o.l1_size & (o.l1_size - 1) or o.l1_size > size):
            raise ConfigError(f"model.l1_size={o.l1_size}: 0 (full size) or a power of two <= data.size ({size})")
        for k in ("l1", "ma_gp", "ma_gp_power", "wrong_weight", "mode_seeking", "text_scale"):
            if getattr(o, k) < 0:
                raise ConfigError(f"model.{k} must be >= 0, got {getattr(o, k)}")
        if not o.adversarial and not o.l1:
            raise ConfigError("model.adversarial=false trains G by L1 alone: set model.l1 > 0 (e.g. -p regression)")
        if o.l1_z0 and not (o.adversarial and o.l1):
            raise ConfigError("model.l1_z0=true needs an adversarial run with model.l1 > 0 (its L1 is at z = 0 only)")
        if o.l1_until < 0 or (o.l1_until and not (o.adversarial and o.l1)):
            raise ConfigError(
                f"model.l1_until={o.l1_until}: a step >= 1 at which an adversarial run's L1 (model.l1 > 0) reaches 0, "
                f"or 0 (kept)"
            )
        try:
            _aug.parse(o.diffaug)
        except ValueError as e:
            raise ConfigError(f"model.diffaug: {e}") from None

    @classmethod
    def load_data(cls, cfg):
        """Captioned images (``data/captions.py``) at ``data.size`` (32 unless set), captions embedded once."""
        from ..data.captions import embed_captions, load_captions

        o = cfg.model
        data = load_captions(dataclasses.replace(cfg.data, size=cfg.data.size or 32))
        if data.embeddings is not None:
            raise ConfigError(
                f"{data.name}: holds precomputed caption embeddings (CUB's pickles), which dfgan "
                f"cannot embed new captions like; give CUB's text_c10 captions instead"
            )
        parts = [data] + ([data.test] if data.test is not None else [])
        embed_captions(parts, text_encoder(o.text_encoder, o.text_dim))
        if data.embeddings.shape[1] != o.text_dim:
            raise DataError(
                f"{data.name}: caption embeddings have {data.embeddings.shape[1]} dimensions, "
                f"model.text_dim is {o.text_dim}"
            )
        return data

    # ---------------------------------------------------------------- networks
    def build(self):
        o, (c, size, _) = self.opts, self.shape
        self.G = Generator(
            o.latent_dim, o.text_dim, o.g_features, size, c, o.g_norm, o.fc_text, text_norm=o.text_norm != "none"
        )
        if o.adversarial:
            self.D = Discriminator(o.text_dim, o.d_features, size, c, o.projection)

    def encoder(self):
        """The run's frozen text encoder, for new captions (prompts)."""
        if self._encoder is None:
            self._encoder = text_encoder(self.opts.text_encoder, self.opts.text_dim)
        return self._encoder

    def noise(self, n: int, generator: torch.Generator | None = None) -> dict:
        return {"z": self.latent(n, generator)}

    def text(self, emb: torch.Tensor, G: nn.Module | None = None) -> torch.Tensor:
        """Caption embeddings as the nets see them: through ``G``'s ``TextNorm`` (``text_norm``), times
        ``text_scale``."""
        norm = (self.G if G is None else G).text_norm
        if norm is None:
            return emb * (self.opts.text_scale or self.opts.text_dim**0.5)
        return norm(emb) * (self.opts.text_scale or 1.0)

    def draw(self, G: nn.Module, emb: torch.Tensor, noise: dict) -> dict[str, torch.Tensor]:
        """The text modality's drawing call (``gankit.pipelines.text``): ``image`` for encoder embeddings ``emb``."""
        return {"image": G(noise["z"], self.text(emb, G))}

    # ---------------------------------------------------------------- training
    def l1_weight(self, step: int) -> float:
        """The L1 term's weight at ``step``: ``l1``, falling linearly to 0 at ``l1_until`` (when set)."""
        o = self.opts
        return o.l1 * max(0.0, 1.0 - step / o.l1_until) if o.l1_until else o.l1

    def _aug(self, x):
        return diff_augment(x, self.opts.diffaug, self.gen) if self.opts.diffaug else x

    def train_step(self, batch):
        o = self.opts
        real, emb, wrong = batch["image"], self.text(batch["emb"]), self.text(batch["emb_wrong"])
        n = real.shape[0]
        ms = o.adversarial and o.mode_seeking > 0 and n >= 2
        if ms:  # MSGAN: the two halves of G's batch share their captions (and the real images they regress to)
            emb, real_g = losses.mode_seeking_halves(emb), losses.mode_seeking_halves(real)
        else:
            real_g = real
        z = self.latent(n)
        k = max(1, n // 4) if o.l1_z0 else n  # the rows the L1 sees (l1_z0: drawn at z = 0)
        if o.l1_z0:
            z = torch.cat([torch.zeros_like(z[:k]), z[k:]])
        fake = self.w.G(z, emb)
        # L1 to the real image, its extremes pulled in to +-L1_REACH: against exactly +-1 (white backgrounds) the sign
        # gradient drives tanh's input to infinity, where its gradient vanishes for every pixel sharing that bias
        l1, w_l1 = None, self.l1_weight(self.step)
        if w_l1:
            a, b = fake[:k].float(), real_g[:k].float().clamp(-L1_REACH, L1_REACH)
            if o.l1_size and o.l1_size < a.shape[-1]:
                a, b = F.adaptive_avg_pool2d(a, o.l1_size), F.adaptive_avg_pool2d(b, o.l1_size)
            l1 = (a - b).abs().mean()

        if not o.adversarial:  # the regression baseline: G alone
            self.update("G", w_l1 * l1)
            self.report("loss/G_l1", l1.detach())
            return

        # ---- D main + MA-GP: one forward over [real, fake] with [caption, caption], and the real rows again
        #      with mismatched captions (D's head reuses their features)
        gp = o.ma_gp > 0 and self.step % o.ma_gp_every == 0
        x = batch["image"].detach().requires_grad_(gp)
        e = self.text(batch["emb"]).detach().requires_grad_(gp)
        out = self.w.D(self._aug(torch.cat([x, fake.detach()])), torch.cat([e, emb]), wrong)
        lr, lf, lw = out.split([n, n, n])
        d_r, d_f, d_w = losses.d_real("hinge", lr), losses.d_fake("hinge", lf), losses.d_fake("hinge", lw)
        d = d_r + o.wrong_weight * (d_f + d_w)
        if gp:
            pen = losses.matching_aware_gp(lr, x, e, o.ma_gp * o.ma_gp_every, o.ma_gp_power)
            self.report("loss/D_magp", pen.detach())
            d = d + pen
        self.update("D", d)

        # ---- G main: fool D on (fake, its caption); mode seeking; optional L1 to the real image
        with frozen(self.D):
            adv = losses.g_loss("hinge", self.D(self._aug(fake), emb))
        g = adv
        if ms:
            term, ratio = losses.mode_seeking(fake, z, o.mode_seeking)
            self.report("loss/G_ms_ratio", ratio.detach())
            g = g + term
        if l1 is not None:
            self.report("loss/G_l1", l1.detach())
            g = g + w_l1 * l1
        self.update("G", g)

        self.report("loss/D_real", d_r.detach())
        self.report("loss/D_fake", d_f.detach())
        self.report("loss/D_wrong", d_w.detach())
        self.report("loss/G_adv", adv.detach())
        self.report("D/acc_real", (lr.detach() > 0).float().mean())
        self.report("D/acc_fake", (lf.detach() < 0).float().mean())
        self.report("D/acc_wrong", (lw.detach() < 0).float().mean())

    # ---------------------------------------------------------------- visuals
    def fixed_inputs(self, data, n, generator):
        """Rows of held-out captions (the training set's without a held-out split): the real image first, then
        samples with fixed noise."""
        from ..data.captions import grid_rows

        if self.G.text_norm is not None:  # the one hook that sees the training data before the first step (a resume
            #                               then loads the saved statistics with G; the EMA copy takes them at step 1)
            self.G.text_norm.fit(torch.unique(data.embeddings, dim=0).to(self.device), self.opts.text_norm)
        held, items, caps = grid_rows(data, n, min_side=2)
        side = len(items)
        self.grid_captions = [held.captions[c] for c in caps]
        return {
            "real": held.images[torch.tensor(items)].to(self.device).float() / 127.5 - 1,
            "emb": held.embeddings[torch.tensor(caps)].to(self.device).repeat_interleave(side, 0),
            **self.noise(side * side, generator),
        }

    @torch.no_grad()
    def visualize(self, nets, fixed):
        side = fixed["real"].shape[0]
        with eval_mode(nets["G"]):
            x = self.draw(nets["G"], fixed["emb"], fixed)["image"].float()
        x = x.view(side, side, *x.shape[1:]).clone()
        x[:, 0] = fixed["real"]
        return x.flatten(0, 1), side
