"""Age-cGAN (Antipov et al. 2017; the book's chapter 3): re-age a face while keeping who it is.

Stage 1 (``stage: gan``): a conditional GAN. G maps z (100) concatenated with a one-hot age bin to an image
(dense, dense, then nearest-upsample + 5x5 conv blocks, tanh); D convolves the image once, concatenates the age
one-hot tiled over that feature map, and goes on (the book's ``expand_label_input``). BCE on logits with one-sided
label smoothing (real 0.9, fake 0.0: the book repo's intent), fakes for D take the real batch's ages, G's step
draws ages uniformly (``fake_label_source``).
Stage 2 (``stage: encoder``, ``model.init_from=STAGE1_RUN``): G frozen; E learns z from G's samples (fresh
(z, age) every step: Euclidean distance to z, as the book) plus ``e_rec_weight`` x L1 reconstruction of real
training images through G(E(x), age(x)). With ``identity: emoji`` the same stage trains the emoji identity
embedder F (``nn/identity.py``) on the real people's identity labels.
Stage 3 (at use: ``gankit.pipelines.age``): per-image latent optimisation as in the paper, from z0 = E(x), for
identity (``identity_weight``) and pixels (``pixel_weight``) over ``latent_steps`` Adam steps; then G(z*, y) for
every target bin. The book instead fine-tunes E and G on the identity loss alone with an untrained "FR" network;
gankit does neither.

The book's nets are preset ``book`` (64 px, 34.9 M / 1.57 M / 18.3 M parameters for G / D / E); ``default`` is a
CPU-sized version at 32 px.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from .. import losses
from ..config import added
from ..data.images import to_float
from ..errors import CheckpointError, ConfigError
from ..nn import augment as _aug
from ..nn import diff_augment, init_weights
from ..nn.agecgan import AgeDiscriminator, AgeEncoder, AgeGenerator, InputCheck
from ..nn.identity import EmojiIdentityNet
from .base import Recipe, frozen, make_optimizer, predict


@dataclass
class Options:
    stage: Literal["gan", "encoder"] = "gan"
    latent_dim: int = 100
    g_dense: int = 256  # book: 2048
    g_channels: list[int] = field(default_factory=lambda: [128, 64, 32])  # book: [256, 128, 64]; one x2 each
    g_dropout: float = 0.2
    d_channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # book: [64, 128, 256, 512]; stride 2
    e_channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # book: [32, 64, 128, 256]; stride 2
    e_dense: int = 256  # book: 4096
    bn_momentum: float = 0.1  # PyTorch convention (Keras default 0.99 is 0.01 here)
    g_conv_bn_momentum: float = 0.2  # the book's BatchNormalization(momentum=0.8) in G's conv blocks
    bn_eps: float = 1e-5  # PyTorch's; Keras' default (the book) is 1e-3
    init: Literal["torch", "keras"] = "torch"  # keras: Glorot-uniform kernels, zero biases (the book's Keras default)
    d_split_steps: bool = False  # book: two D optimizer steps per iteration (the real batch, then the fakes)
    fakes_eval: bool = False  # book: D's fakes from G in inference mode (Keras predict_on_batch: BN statistics, no
    # dropout)
    real_label: float = 0.9
    fake_label: float = 0.0
    fake_label_source: Literal["real_batch", "random"] = "real_batch"
    balance: bool = True  # every age bin fills the same share of an epoch (the book: file order, unbalanced)
    people: Literal["faces", "all"] = "faces"  # emoji-people: adults drawn as heads only, or every role/activity
    # stage 1 regularisers (off by default: at 8 CPU-minutes they trade the speckle for blur and lose age
    # accuracy, docs/ageing.md): DiffAugment on everything D sees (colour jitter blurs the age cues: grey hair, skin
    # tone), R1 gamma (gamma / 2 * E||grad_x D(x, y)||^2 on reals), MSGAN weight (G's batch halves share an age)
    diffaug: str = ""
    r1: float = 0.0
    mode_seeking: float = 0.0
    # stage 2
    init_from: str | None = None  # stage-1 run dir / checkpoint whose G stage 2 inverts
    init_ema: bool = True  # take the stage-1 run's EMA copy of G (when it has one) rather than its raw weights
    e_lr: float = 1e-3  # the book: Keras' default Adam (1e-3, 0.9, 0.999)
    e_rec_weight: float = 1.0  # L1 reconstruction of real images through the frozen G (book: 0)
    identity: Literal["auto", "emoji", "dlib", "none"] = "auto"  # auto: emoji for emoji-people, dlib for photos
    id_dim: int = 64
    n_identities: int = 0  # set from the data (emoji identities in the training split)
    # stage 3 (per-image latent optimisation, at use)
    latent_steps: int = 60
    # warn when an input is far from the training faces (``ood_threshold``: the held-out faces' largest distance to
    # the training faces x ``ood_margin``, calibrated and stored with stage 2)
    ood_check: bool = added(True, before=False)
    ood_margin: float = 1.25
    ood_bank: int = 0  # set from the data: training faces whose features are kept
    latent_lr: float = 0.05
    identity_weight: float = 1.0
    pixel_weight: float = 1.0
    eval_images: int = 8  # held-out people in the periodic grid (stage 2)


def one_hot(y: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(y.long(), k).float()


class AgeCGAN(Recipe):
    name = "agecgan"
    modality = "age"
    Options = Options
    conditional = True
    ema_nets = ("G",)

    @classmethod
    def modality_for(cls, config):
        """Stage 1 has no encoder yet: a class-conditional noise model whose classes are the age bins."""
        return "noise" if (config.get("model") or {}).get("stage", "gan") == "gan" else "age"

    def __init__(self, cfg, shape, num_classes=0, device="cpu"):
        o = cfg.model
        self.nets = ("G", "D") if o.stage == "gan" else (("G", "E", "F") if o.identity == "emoji" else ("G", "E"))
        super().__init__(cfg, shape, num_classes, device)

    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        for key in ("g_channels", "d_channels", "e_channels"):
            if not getattr(o, key):
                raise ConfigError(f"model.{key} must list at least one width")
        if cfg.data.size is not None:
            for key in ("g_channels", "d_channels", "e_channels"):
                n = len(getattr(o, key))
                if cfg.data.size % 2**n or cfg.data.size // 2**n < 1:
                    raise ConfigError(
                        f"model.{key}: {n} stride-2 stages need data.size divisible by {2**n}, got {cfg.data.size}"
                    )
        if not 0 <= o.fake_label < o.real_label <= 1:
            raise ConfigError(
                f"model.real_label/fake_label must satisfy 0 <= fake < real <= 1, got {o.real_label}/{o.fake_label}"
            )
        if o.latent_steps < 0:
            raise ConfigError(f"model.latent_steps must be >= 0, got {o.latent_steps}")
        if o.r1 < 0 or o.mode_seeking < 0 or o.ood_margin <= 0:
            raise ConfigError(
                f"model.r1 and model.mode_seeking must be >= 0 and model.ood_margin > 0, got {o.r1}, "
                f"{o.mode_seeking}, {o.ood_margin}"
            )
        try:
            _aug.parse(o.diffaug)
        except ValueError as e:
            raise ConfigError(f"model.diffaug: {e}") from None

    @classmethod
    def load_data(cls, cfg):
        from ..data.ages import load_ages

        o = cfg.model
        if o.init_from and not Path(o.init_from).expanduser().exists():
            raise ConfigError(f"model.init_from: not found: {o.init_from}")
        data = load_ages(cfg.data, balance=o.balance, people=o.people)
        if o.identity == "auto":
            o.identity = "emoji" if data.identities else "dlib"
        if o.identity == "emoji":
            if not data.identities:
                raise ConfigError(f"model.identity=emoji needs identity labels; {cfg.data.name} has none (use dlib)")
            o.n_identities = len(data.identities)
        o.ood_bank = min(int(data.images.shape[0]), 1024)
        return data

    def start_from(self, weights):
        """Stage 2 inverts stage 1's G (its EMA copy with ``model.init_ema``): ``model.init_from``, read by the
        Trainer; E (and F) start fresh."""
        sd = weights.get("ema.G") if self.opts.init_ema and "ema.G" in weights else weights.get("G")
        if not sd:
            raise CheckpointError(f"model.init_from={self.opts.init_from}: holds no generator weights")
        self.G.load_state_dict(sd)

    @classmethod
    def resume_config(cls, cfg):
        return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init_from=None))

    def build(self):
        o, k, (c, size, _) = self.opts, self.num_classes, self.shape
        if k < 2:
            raise ConfigError(f"agecgan needs age-labelled data with at least 2 bins (data.name={self.cfg.data.name})")
        self.G = init_weights(
            AgeGenerator(
                o.latent_dim,
                k,
                c,
                size,
                o.g_dense,
                o.g_channels,
                o.g_dropout,
                o.bn_momentum,
                o.g_conv_bn_momentum,
                o.bn_eps,
            ),
            o.init,
        )
        if o.stage == "gan":
            self.D = init_weights(AgeDiscriminator(k, c, size, o.d_channels, o.bn_momentum, o.bn_eps), o.init)
            return
        self.E = init_weights(
            AgeEncoder(o.latent_dim, c, size, o.e_channels, o.e_dense, o.bn_momentum, o.bn_eps), o.init
        )
        if o.ood_check and o.ood_bank > 0:  # filled from the data by calibrate_check, saved with E
            self.E.check = InputCheck(o.ood_bank, c, min(16, size // 2))
        if "F" in self.nets:
            self.F = EmojiIdentityNet(c, o.n_identities, o.id_dim)
        self.G.eval().requires_grad_(False)  # stage 2 inverts a fixed G (inference mode, as the book's predict)

    def generate(self, G, z, label=None):
        return G(z, one_hot(label, self.num_classes))

    def make_optimizers(self):
        t, o = self.cfg.train, self.opts
        if o.stage == "gan":
            return super().make_optimizers()
        e_cfg = dataclasses.replace(t, beta1=0.9, beta2=0.999)
        out = {"E": make_optimizer(self.E.parameters(), e_cfg, o.e_lr)}
        if "F" in self.nets:
            out["F"] = make_optimizer(self.F.parameters(), e_cfg, o.e_lr)
        return out

    # ---------------------------------------------------------------- training
    def train_step(self, batch):
        if self.opts.stage == "gan":
            self._gan_step(batch)
        else:
            self._encoder_step(batch)

    def _gan_step(self, batch):
        o, k = self.opts, self.num_classes
        x, y = batch["image"], batch["label"]
        n = x.shape[0]
        y_fake = y if o.fake_label_source == "real_batch" else self.random_labels(n)

        # D main: real (smoothed target) vs G's samples at the same ages; one step, or the book's two
        if o.fakes_eval:
            fake = predict(self.G, self.latent(n), one_hot(y_fake, k))
        else:
            with torch.no_grad():
                fake = self.G(self.latent(n), one_hot(y_fake, k))
        x = x.detach().requires_grad_(o.r1 > 0)
        lr_ = self._D(self.w.D, x, one_hot(y, k))
        d_real = losses.d_real("bce", lr_, o.real_label)
        reg = 0.0
        if o.r1:
            r1 = losses.r1_penalty(lr_, x)
            reg = 0.5 * o.r1 * r1
            self.report("loss/D_r1", r1.detach())
        if o.d_split_steps:
            self.update("D", d_real + reg)
        lf = self._D(self.w.D, fake, one_hot(y_fake, k))
        d_fake = losses.d_fake("bce", lf, o.fake_label)
        self.update("D", d_fake if o.d_split_steps else 0.5 * (d_real + d_fake) + reg)

        # G main: fresh z, ages drawn uniformly, target 1; with mode seeking the batch's halves share their ages
        y_g = self.random_labels(n)
        ms = o.mode_seeking and n >= 2
        if ms:
            y_g = losses.mode_seeking_halves(y_g)
        z = self.latent(n)
        out = self.w.G(z, one_hot(y_g, k))
        with frozen(self.D):
            g = losses.g_loss("bce", self._D(self.D, out, one_hot(y_g, k)))
        if ms:
            term, ratio = losses.mode_seeking(out, z, o.mode_seeking)
            self.report("loss/G_ms_ratio", ratio.detach())
            g = g + term
        self.update("G", g)

        acc_r, acc_f = losses.d_accuracy(lr_.detach(), lf.detach())
        for name, v in (("loss/D_real", d_real), ("loss/D_fake", d_fake), ("loss/G", g)):
            self.report(name, v.detach())
        self.report("D/acc_real", acc_r)
        self.report("D/acc_fake", acc_f)

    def _D(self, net, x, y):
        return net(diff_augment(x, self.opts.diffaug, self.gen) if self.opts.diffaug else x, y)

    def _encoder_step(self, batch):
        o, k = self.opts, self.num_classes
        x, y = batch["image"], batch["label"]
        n = x.shape[0]
        self.G.eval()

        # E main: recover z from G's own samples (fresh pairs every step), and reconstruct real faces through G
        z, y_g = self.latent(n), self.random_labels(n)
        with torch.no_grad():
            fake = self.G(z, one_hot(y_g, k))
        lat = (self.w.E(fake) - z).norm(dim=1).mean()
        loss = lat
        if o.e_rec_weight > 0:
            rec = F.l1_loss(self.G(self.w.E(x), one_hot(y, k)), x)
            loss = loss + o.e_rec_weight * rec
            self.report("loss/E_rec", rec.detach())
        self.update("E", loss)
        self.report("loss/E_latent", lat.detach())

        # F main: the emoji identity embedder on the real people's identities
        if "F" in self.nets:
            f_loss, f_acc = self.w.F.loss(x, batch["identity"])
            self.update("F", f_loss)
            self.report("loss/F_identity", f_loss.detach())
            self.report("eval/F_identity_acc", f_acc.detach())

    # ---------------------------------------------------------------- visuals
    def fixed_inputs(self, data, n, generator):
        if self.opts.stage == "gan":  # one row per age bin, the same latents in every row
            cols = max(1, round(n**0.5))
            z = self.latent(cols, generator).repeat(self.num_classes, 1)
            return {"z": z, "label": torch.arange(self.num_classes, device=self.device).repeat_interleave(cols)}
        self.calibrate_check(data)
        pool = data.test if getattr(data, "test", None) is not None and len(data.test) else data
        idx = spread(pool.labels, self.opts.eval_images)
        b = pool.batch(idx, self.device)
        return {"image": b["image"], "label": b["label"]}

    def calibrate_check(self, data) -> None:
        """Stage 2 (called once with the data, before training): the input check's bank of training faces and its
        threshold from the held-out faces (at most 2,048 of each, evenly spaced)."""
        check = getattr(self.E, "check", None)
        if check is None:
            return

        def some(images):
            idx = torch.linspace(0, len(images) - 1, min(len(images), 2048)).round().long()
            return to_float(images[idx]).to(self.device)

        test = getattr(data, "test", None)
        held = some(test.images) if test is not None and len(test) else None
        check.fit(some(data.images), held, self.opts.ood_margin)

    @torch.no_grad()
    def visualize(self, nets, fixed):
        if self.opts.stage == "gan":
            cols = int((fixed["label"] == 0).sum())
            return self.sample(nets["G"], fixed["z"], fixed["label"]), cols
        # each held-out face, then G(E(x), age) for every bin (eval mode): the ageing pipeline's strip without the
        # stage-3 latent steps
        x, G, E = fixed["image"], nets["G"], self.E
        modes = G.training, E.training
        G.eval()
        E.eval()
        try:
            z = E(x)
            bins = [torch.full((x.shape[0],), b, device=x.device, dtype=torch.long) for b in range(self.num_classes)]
            outs = [G(z, one_hot(y, self.num_classes)).float() for y in bins]
        finally:
            G.train(modes[0])
            E.train(modes[1])
        strips = torch.stack([x.float()] + outs, 1)
        return strips.flatten(0, 1), strips.shape[1]


def spread(labels: torch.Tensor, n: int) -> torch.Tensor:
    """Up to ``n`` indices taking each bin in turn (first items of each bin), so a small grid shows every age."""
    per = [torch.nonzero(labels == b).flatten().tolist() for b in range(int(labels.max()) + 1 if len(labels) else 0)]
    out, i = [], 0
    while len(out) < n and any(i < len(p) for p in per):
        out += [p[i] for p in per if i < len(p)]
        i += 1
    return torch.tensor(out[:n], dtype=torch.long)
