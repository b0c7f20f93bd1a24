"""SRResNet and SRGAN, x4 super-resolution (Ledig et al. 2017; the book's chapter 5 as preset ``book``).

Stage 1 (``stage: srresnet``, preset ``srresnet``): G alone, pixel MSE. Stage 2 (``stage: srgan``, presets
``default``/``paper``): G starts from the stage-1 weights (``model.init_from=RUN_OR_CKPT``) and minimises
``content + 1e-3 * adversarial`` where content is the MSE between VGG19 feature maps (phi_5,4 by default,
``content=vgg22`` for phi_2,2; scaled by 1/12.75 as in the paper) of SR and HR, both mapped from [-1, 1] to
ImageNet normalisation. VGG19 weights come only from ``model.vgg_weights`` / ``--vgg-weights PATH`` (a
torchvision ``vgg19`` state_dict, .pth or .safetensors); without them the content loss is pixel MSE, and the
config says so (``content: mse`` and ``content_note``) with a warning line.

The book's faults are fixed in every preset: LR is made from the HR crop (``data/sr.py``), VGG gets
normalised inputs, and batches hold 16 crops (the book's batch 1 makes BatchNorm statistics per image).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from .. import losses
from ..errors import CheckpointError, ConfigError
from ..metrics.sr import sr_scores
from ..nn import init_weights
from ..nn.srresnet import SRDiscriminator, SRResNet
from ..nn.vgg import VGGFeatures, load_vgg
from .base import Recipe, frozen, predict


@dataclass
class Options:
    stage: Literal["srresnet", "srgan"] = "srgan"
    scale: int = 4
    crop: int = 64  # HR crop side (the LR crop is crop / scale; the paper: 96)
    flip: bool = True  # random horizontal and vertical flips of the crops
    flip_vertical: bool = True  # with flip: vertical flips too (the book: horizontal only)
    arch: Literal["paper", "book"] = "paper"  # book: ReLU, conv-ReLU-BN blocks, nearest upsample + conv
    g_features: int = 32  # CPU-sized (the paper: 64 features, 16 blocks)
    g_blocks: int = 4
    up_features: int = 256  # book only: channels of the upsample + conv stages
    d_features: int = 32  # first conv; doubles every second conv (the paper: 64 -> 512)
    d_dense: int = 256  # the paper: 1024
    d_head: Literal["dense", "patch"] = "dense"  # patch: the book's per-position Dense (1x1 convs)
    d_bn_after_act: bool = False  # book: LeakyReLU then BN
    bn_momentum: float = 0.1  # PyTorch convention; Keras momentum 0.8 (book) is 0.2 here
    bn_eps: float = 1e-5
    content: Literal["vgg54", "vgg22", "vgg33", "mse"] = "vgg54"
    vgg_weights: str | None = None  # torchvision vgg19 state_dict; never downloaded
    vgg_scale: float = 1 / 12.75  # VGG feature maps are multiplied by this (paper)
    content_note: str = ""  # set when the requested content loss could not be used
    adv_weight: float = 1e-3
    d_loss: Literal["bce", "mse"] = "bce"  # mse: the book's least squares on D's sigmoid output
    init_from: str | None = None  # stage-1 run dir / checkpoint whose G starts stage 2
    lr_drop_at: float | None = 0.5  # fraction of the step budget after which both LRs are x0.1 (paper); None: never
    eval_images: int = 32  # held-out images scored by the periodic report (train.report_every_epochs)
    init: Literal["torch", "keras"] = "torch"  # keras: Glorot-uniform kernels, zero biases (the book's Keras default)
    d_first: bool = False  # book: D's step before G's (the paper's code: G first)
    g_fresh_batch: bool = False  # book (with d_first): D on the batch's first half, G on the other half
    d_split_steps: bool = False  # book: two D optimizer steps (the real batch, then the fakes)
    fakes_eval: bool = False  # book: D's fakes from G in inference mode (Keras predict); with d_first


def make_generator(o: Options, channels: int = 3) -> SRResNet:
    return SRResNet(channels, o.g_features, o.g_blocks, o.scale, o.arch, o.up_features, o.bn_momentum, o.bn_eps)


def make_discriminator(o: Options, channels: int = 3) -> SRDiscriminator:
    return SRDiscriminator(
        channels, o.crop, o.d_features, o.d_dense, o.d_head, 0.2, o.bn_momentum, o.bn_eps, o.d_bn_after_act
    )


class SRGAN(Recipe):
    name = "srgan"
    modality = "upscale"
    Options = Options

    def __init__(self, cfg, shape, num_classes=0, device="cpu"):
        self.nets = ("G",) if cfg.model.stage == "srresnet" else ("G", "D")
        self._vgg = None
        super().__init__(cfg, shape, num_classes, device)

    @property
    def latent_dim(self) -> int:
        return 0

    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        if o.scale < 2 or o.scale & (o.scale - 1):
            raise ConfigError(f"model.scale must be a power of two >= 2, got {o.scale}")
        if o.crop % o.scale:
            raise ConfigError(f"model.crop={o.crop} is not a multiple of model.scale={o.scale}")
        if o.crop < 16:
            raise ConfigError(f"model.crop={o.crop}: the discriminator needs crops of at least 16 px")
        if (o.g_fresh_batch or o.fakes_eval) and not o.d_first:
            raise ConfigError("model.g_fresh_batch and model.fakes_eval are for D's step first: set model.d_first=true")
        if o.g_fresh_batch and cfg.train.batch_size % 2:
            raise ConfigError(
                f"model.g_fresh_batch halves the batch (D on one half, G on the other): train.batch_size must be "
                f"even, got {cfg.train.batch_size}"
            )
        if o.lr_drop_at is not None and not 0 < o.lr_drop_at < 1:
            raise ConfigError(f"model.lr_drop_at must be in (0, 1), got {o.lr_drop_at}")
        if o.stage == "srgan" and o.content != "mse" and not o.vgg_weights:
            o.content_note = (
                f"content={o.content} needs VGG19 weights (model.vgg_weights / --vgg-weights PATH); "
                f"none given, so the content loss is pixel MSE"
            )
            o.content = "mse"
            print(f"warning: {o.content_note}", file=sys.stderr)

    @classmethod
    def load_data(cls, cfg):
        """The HR training data (called only when training: checks the files a run needs up front)."""
        from ..data.sr import load_sr

        o = cfg.model
        if o.init_from and not Path(o.init_from).expanduser().exists():
            raise ConfigError(f"model.init_from: not found: {o.init_from}")
        if (
            o.stage == "srgan"
            and o.content != "mse"
            and o.vgg_weights
            and not Path(o.vgg_weights).expanduser().is_file()
        ):
            raise ConfigError(f"model.vgg_weights: file not found: {o.vgg_weights}")
        return dataclasses.replace(load_sr(cfg.data, o.crop, o.scale, o.flip), vflip=o.flip_vertical)

    @classmethod
    def resume_config(cls, cfg):
        """The stage-1 weights are in the checkpoint by now: a resume must not need the stage-1 run."""
        return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init_from=None))

    def build(self):
        c = self.shape[0]
        self.G = init_weights(make_generator(self.opts, c), self.opts.init)
        if "D" in self.nets:
            self.D = init_weights(make_discriminator(self.opts, c), self.opts.init)

    def start_from(self, weights):
        """Stage 2 starts from stage 1's G (``model.init_from``, read by the Trainer); D starts fresh."""
        if not weights.get("G"):
            raise CheckpointError(f"model.init_from={self.opts.init_from}: holds no generator weights")
        self.G.load_state_dict(weights["G"])

    # ---------------------------------------------------------------- training
    def lr_lambda(self, total_steps):
        """Both LRs x0.1 after ``lr_drop_at`` of the step budget (the paper's 10^-4 -> 10^-5)."""
        at = self.opts.lr_drop_at
        if at is None or not total_steps:
            return None
        return lambda step: 0.1 if step >= at * total_steps else 1.0

    def vgg(self) -> VGGFeatures:
        if self._vgg is None:
            self._vgg = load_vgg(self.opts.vgg_weights, self.opts.content).to(self.device)
        return self._vgg

    def content_loss(self, sr, hr):
        if self.opts.content == "mse":
            return F.mse_loss(sr.float(), hr.float())
        v, s = self.vgg(), self.opts.vgg_scale
        with torch.no_grad():
            target = v(hr) * s
        return F.mse_loss((v(sr) * s).float(), target.float())

    def _d_loss(self, logits, real: bool):
        if self.opts.d_loss == "mse":  # the book: MSE between sigmoid(D) and 1/0
            p = torch.sigmoid(logits.float())
            return F.mse_loss(p, torch.full_like(p, 1.0 if real else 0.0))
        return losses.d_real("bce", logits) if real else losses.d_fake("bce", logits)

    def train_step(self, batch):
        lr, hr = batch["lr"], batch["hr"]
        o = self.opts
        if o.stage == "srgan" and o.d_first:
            return self._book_step(lr, hr)
        sr = self.w.G(lr)
        if o.stage == "srresnet":
            loss = F.mse_loss(sr.float(), hr.float())
            self.update("G", loss)
            self.report("loss/G_mse", loss.detach())
            return
        self._g_step(sr, hr)
        self._d_step(hr, sr.detach())

    def _book_step(self, lr, hr):
        """The book's order: D first (on G's fakes of this batch), then G; with ``g_fresh_batch`` G learns from the
        batch's other half, as the book draws a new image for its G step."""
        o = self.opts
        d_lr, d_hr = lr, hr
        if o.g_fresh_batch:
            (d_lr, lr), (d_hr, hr) = lr.chunk(2), hr.chunk(2)
        if o.fakes_eval:
            fake = predict(self.G, d_lr)
        else:
            with torch.no_grad():
                fake = self.G(d_lr)
        self._d_step(d_hr, fake)
        self._g_step(self.w.G(lr), hr)

    def _g_step(self, sr, hr):
        o = self.opts
        with frozen(self.D):
            adv = losses.g_loss("bce", self.D(sr))
        content = self.content_loss(sr, hr)
        g_total = content + o.adv_weight * adv
        self.update("G", g_total)
        self.report("loss/G_total", g_total.detach())
        self.report("loss/G_content", content.detach())
        self.report("loss/G_adv", adv.detach())
        with torch.no_grad():
            self.report("health/mse", F.mse_loss(sr.detach().float(), hr.float()))

    def _d_step(self, hr, fake):
        """D on real HR and G's (detached) fakes: one step on the sum, or the book's two (real, then fake)."""
        lr_ = self.w.D(hr)
        d_r = self._d_loss(lr_, True)
        if self.opts.d_split_steps:
            self.update("D", d_r)
        lf = self.w.D(fake)
        d_f = self._d_loss(lf, False)
        self.update("D", d_f if self.opts.d_split_steps else d_r + d_f)
        self.report("loss/D_real", d_r.detach())
        self.report("loss/D_fake", d_f.detach())
        self.report("D/p_real", torch.sigmoid(lr_.detach().float()).mean())
        self.report("D/p_fake", torch.sigmoid(lf.detach().float()).mean())

    # ---------------------------------------------------------------- visuals and reports
    def fixed_inputs(self, data, n, generator):
        from ..data.sr import downscale

        hr = data.heldout_crops(min(n, 6), self.device)
        return {"hr": hr, "lr": downscale(hr, self.opts.scale)}

    @torch.no_grad()
    def visualize(self, nets, fixed):
        """Rows of LR (bicubic-enlarged) | SR | HR for fixed held-out crops."""
        from ..data.sr import bicubic_up

        G = nets["G"]
        was = G.training
        G.eval()
        try:
            sr = G(fixed["lr"]).float()
        finally:
            G.train(was)
        bic = bicubic_up(fixed["lr"], self.opts.scale)
        return torch.stack([bic, sr, fixed["hr"].float()], 1).flatten(0, 1), 3

    def epoch_report(self, data, step):
        s = sr_scores(self.G, data, self.opts.scale, self.opts.eval_images, self.device)
        return {
            "eval/psnr_y": s["sr"]["psnr_y"],
            "eval/ssim_y": s["sr"]["ssim_y"],
            "eval/psnr_y_bicubic": s["bicubic"]["psnr_y"],
        }
