"""3D-GAN (book ch.2; Wu et al. 2016): volumetric G and D of 3D (transposed) convolutions on voxel grids.

G: z (200-d, N(0, z_std), the book's code draws sigma 0.33) -> ConvT3d 4 s1 to 4^3 x g_channels[0] -> one
ConvT3d 4 s2 p1 stage per further entry of ``g_channels`` (BN + ReLU) -> ConvT3d 4 s2 p1 to 1 channel -> sigmoid.
``g_upsample: last`` makes that last stage a nearest x2 upsample + Conv3d 3 p1, ``all`` every stage (the default
and the book: ``convT``; ``last`` leaves fewer floating fragments but costs 1.6x the CPU per step, docs/gan3d.md).
The book: g_channels 512, 256, 128, 64 -> 64^3 (17,570,625 parameters; 17,570,627 with the book code's BN on the
output layer, ``g_bn_out``). D mirrors it: Conv3d 4 s2 p1 per ``d_channels`` entry with LeakyReLU 0.2 (BN on all
but the first unless ``d_bn_first``), then Conv3d 4 s1 p0 on the 4^3 map -> one logit (11,049,665 parameters;
11,049,795 with the book code's BN on D's first and last layers).

The book code's bugs are not copied (specs/book_ch2_ch3.md A8): no BN on the output layers, BN in eval mode for
sampling, logits + BCE-with-logits instead of sigmoid + BCE, shuffled data, one ``z_std`` everywhere.

D update policy (``d_policy``): ``always``; ``acc_threshold`` — the paper's rule, D is updated only while its
accuracy on the current batch is <= ``d_acc_threshold`` (0.8); ``every_n`` — the companion repo's every other
batch. ``conditional``: G gets a learned class embedding concatenated to z, D one-hot class planes stacked onto
its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from .. import losses
from ..errors import ConfigError
from ..nn import init_weights
from ..nn.gan3d import Discriminator3D, Generator3D
from .base import Recipe, frozen


@dataclass
class Options:
    latent_dim: int = 200
    z_std: float = 0.33  # the book's training code; the same sigma is used for sampling
    g_channels: list[int] = field(default_factory=lambda: [128, 64, 32])  # 4^3, then one x2 stage each (book: 512-64)
    d_channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # one stride-2 conv each (book: 64-512)
    # G's x2 stages: convT (the book: transposed conv 4 s2 p1 each), last (the last one nearest upsample + conv 3,
    # against checkerboard speckle on the surface), all (every stage; about 3.4x G's multiply-adds)
    g_upsample: Literal["convT", "last", "all"] = "convT"
    g_bn_out: bool = False  # the book code's BN on G's 1-channel output layer (the text says none)
    d_bn_first: bool = False  # BN on D's first layer (book text: yes; companion repo and DCGAN: no)
    d_bn_out: bool = False  # the book code's BN on D's output layer
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    slope: float = 0.2
    loss: Literal["bce", "minimax", "ls", "hinge"] = "bce"
    d_policy: Literal["always", "acc_threshold", "every_n"] = "acc_threshold"  # the paper's gate (the book: always)
    d_acc_threshold: float = 0.8  # acc_threshold: update D only while its batch accuracy is <= this
    d_every: int = 2  # every_n: update D on every n-th step
    d_split_steps: bool = False  # the book: two D optimizer steps, on the all-real then the all-fake batch
    reuse_fakes: bool = True  # G's step scores the fakes D just saw (one G forward per step); false: a fresh z
    conditional: bool = False
    embed_dim: int = 16  # conditional G: size of the class embedding concatenated to z
    init: Literal["keras", "normal02", "torch"] = "normal02"


def out_res(channels: list[int]) -> int:
    return 4 * 2 ** len(channels)


class GAN3D(Recipe):
    name = "gan3d"
    modality = "voxel"
    Options = Options

    @classmethod
    def load_data(cls, cfg):
        from ..data.voxels import load_voxels

        return load_voxels(cfg.data)

    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        if not o.g_channels or not o.d_channels:
            raise ConfigError("model.g_channels and model.d_channels need at least one entry each")
        res = cfg.data.size or 32
        for key, ch in (("model.g_channels", o.g_channels), ("model.d_channels", o.d_channels)):
            if out_res(ch) != res:
                raise ConfigError(
                    f"{key}: {len(ch)} entries make {out_res(ch)}^3 volumes but data.size is {res} "
                    f"(use {max(0, (res // 4).bit_length() - 1)} entries for {res}^3)"
                )
        if not 0 < o.d_acc_threshold <= 1:
            raise ConfigError(f"model.d_acc_threshold must be in (0, 1], got {o.d_acc_threshold}")
        if o.d_every < 1:
            raise ConfigError(f"model.d_every must be >= 1, got {o.d_every}")
        if o.z_std <= 0:
            raise ConfigError(f"model.z_std must be > 0, got {o.z_std}")

    def build(self):
        o = self.opts
        self.conditional = bool(o.conditional)  # instance attribute: the API and the grid read it
        if self.conditional and self.num_classes < 2:
            raise ConfigError("model.conditional=true needs a dataset with at least 2 classes")
        k = self.num_classes if self.conditional else 0
        self.G = init_weights(Generator3D(o, k), o.init)
        self.D = init_weights(Discriminator3D(o, k), o.init)

    def latent(self, n, generator=None):
        return super().latent(n, generator) * self.opts.z_std

    def generate(self, G, z, label=None):
        return G(z, label)

    # ---------------------------------------------------------------------------------- the step
    def d_should_update(self, acc: torch.Tensor) -> bool:
        o = self.opts
        if o.d_policy == "acc_threshold":
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                acc = acc.clone()  # every replica must take the same branch (DDP's backward all-reduces)
                torch.distributed.all_reduce(acc)
                acc = acc / torch.distributed.get_world_size()
            return bool(acc <= o.d_acc_threshold)  # a sync: the rule depends on this batch's accuracy
        if o.d_policy == "every_n":
            return self.step % o.d_every == 0
        return True

    def train_step(self, batch):
        o, kind = self.opts, self.opts.loss
        real = batch["voxels"]
        n = real.shape[0]
        label = batch.get("label") if self.conditional else None
        fake = self.w.G(self.latent(n), label)

        # D main: real and generated (detached) in separate forwards, so D's BN statistics on an all-fake batch
        # are the ones G's step meets; one optimizer step, or the book's two (real, then fake); gated by d_policy
        out_real = self.w.D(real, label)
        out_fake = self.w.D(fake.detach(), label)
        loss_real, loss_fake = losses.d_real(kind, out_real), losses.d_fake(kind, out_fake)
        acc_real, acc_fake = losses.d_accuracy(out_real.detach(), out_fake.detach(), kind)
        acc = (acc_real + acc_fake) / 2
        update_d = self.d_should_update(acc)
        if update_d:
            if o.d_split_steps:  # the fake half runs again: the real step changed D's weights in place
                self.update("D", loss_real)
                self.update("D", losses.d_fake(kind, self.w.D(fake.detach(), label)))
            else:
                self.update("D", loss_real + loss_fake)
        self.report("loss/D_real", loss_real.detach())
        self.report("loss/D_fake", loss_fake.detach())
        self.report("D/acc_real", acc_real)
        self.report("D/acc_fake", acc_fake)
        self.report("D/updated", torch.tensor(float(update_d)))

        # G main: non-saturating (bce) against a D that is only scored
        if not o.reuse_fakes:
            label = self.random_labels(n)
            fake = self.w.G(self.latent(n), label)
        with frozen(self.D):
            g = losses.g_loss(kind, self.D(fake, label))
        self.update("G", g)
        self.report("loss/G", g.detach())
        self.report("G/occupancy", fake.detach().float().mean())

    # ---------------------------------------------------------------------------------- pictures
    def visualize(self, nets, fixed):
        from ..viz.voxels import render

        vox = self.sample(nets["G"], fixed["z"], fixed.get("label"))
        n = vox.shape[0]
        return render(vox, size=96 if vox.shape[-1] > 32 else 64), max(1, round(n**0.5))

    @torch.no_grad()
    def epoch_report(self, data, step):
        """D accuracy on up to 150 real and 150 generated shapes (eval mode) and the samples' occupancy."""
        from ..metrics.task import d_accuracy

        n = min(150, len(data))
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(step))[:n]
        b = data.batch(idx, self.device)
        lab = b.get("label") if self.conditional else None
        fake = self.sample(self.G, self.latent(n, torch.Generator(self.device).manual_seed(step)), lab)
        acc = d_accuracy(self.D, b["voxels"], fake, self.opts.loss, label=lab)
        return {
            **{"eval/" + k.replace("/", "_"): v for k, v in acc.items()},
            "eval/occupancy_fake": float((fake > 0.5).float().mean()),
            "eval/occupancy_real": float(b["voxels"].mean()),
        }
