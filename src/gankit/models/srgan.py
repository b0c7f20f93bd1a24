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
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..errors import CheckpointError, ConfigError, GankitError
from ..nn.srresnet import SRDiscriminator, SRResNet
from .base import Recipe, frozen

VGG_CUT = {"vgg22": 9, "vgg33": 16, "vgg54": 36}  # torchvision vgg19().features[:cut] ends after that ReLU
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class Options:
    stage: Literal["srresnet", "srgan"] = "srgan"
    scale: int = 4
    crop: int = 96  # HR crop side (the LR crop is crop / scale)
    flip: bool = True  # random horizontal and vertical flips of the crops
    arch: Literal["paper", "book"] = "paper"  # book: ReLU, conv-ReLU-BN blocks, nearest upsample + conv
    g_features: int = 64
    g_blocks: int = 16
    up_features: int = 256  # book only: channels of the upsample + conv stages
    d_features: int = 64  # first conv; doubles every second conv (64 -> 512)
    d_dense: int = 1024
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
    lr_drop_at: float | None = None  # fraction of the step budget after which both LRs are x0.1 (paper: 0.5)
    eval_images: int = 32  # held-out images scored by the periodic report (train.report_every_epochs)


def make_generator(o: Options, channels: int = 3) -> SRResNet:
    return SRResNet(channels, o.g_features, o.g_blocks, o.scale, o.arch, o.up_features, o.bn_momentum, o.bn_eps)


def make_discriminator(o: Options, channels: int = 3) -> SRDiscriminator:
    return SRDiscriminator(channels, o.crop, o.d_features, o.d_dense, o.d_head, 0.2, o.bn_momentum, o.bn_eps,
                           o.d_bn_after_act)


class VGGFeatures(nn.Module):
    """Frozen torchvision VGG19 ``features[:cut]`` on [-1, 1] inputs mapped to ImageNet normalisation."""

    def __init__(self, state_dict: dict, cut: int):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        with torch.random.fork_rng(devices=[]):  # its random init is overwritten: keep the run's RNG stream intact
            feats = make_layers(cfgs["E"], batch_norm=False)[:cut]  # torchvision's vgg19().features, truncated
        sd = {k[len("features."):]: v for k, v in state_dict.items() if k.startswith("features.")} or dict(state_dict)
        sd = {k: v for k, v in sd.items() if k.split(".")[0].isdigit() and int(k.split(".")[0]) < cut}
        feats.load_state_dict(sd)  # strict: every layer up to the cut must be in the file
        self.net = feats.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return self.net(((x + 1) / 2 - self.mean) / self.std)


def load_vgg(path: str | Path, content: str) -> VGGFeatures:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"model.vgg_weights: file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        return VGGFeatures(sd, VGG_CUT[content])
    except (RuntimeError, KeyError, ValueError, OSError, TypeError, AttributeError) as e:
        raise CheckpointError(f"model.vgg_weights={path}: not a torchvision VGG19 state_dict "
                              f"({str(e).splitlines()[0][:200]})") from None


class SRGAN(Recipe):
    name = "srgan"
    use_instead = "gankit upscale CKPT INPUT... --out DIR"
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
        if o.lr_drop_at is not None and not 0 < o.lr_drop_at < 1:
            raise ConfigError(f"model.lr_drop_at must be in (0, 1), got {o.lr_drop_at}")
        if o.stage == "srgan" and o.content != "mse" and not o.vgg_weights:
            o.content_note = (f"content={o.content} needs VGG19 weights (model.vgg_weights / --vgg-weights PATH); "
                              f"none given, so the content loss is pixel MSE")
            o.content = "mse"
            print(f"warning: {o.content_note}", file=sys.stderr)

    @classmethod
    def load_data(cls, cfg):
        """The HR training data (called only when training: checks the files a run needs up front)."""
        from ..data.sr import load_sr

        o = cfg.model
        if o.init_from and not Path(o.init_from).expanduser().exists():
            raise ConfigError(f"model.init_from: not found: {o.init_from}")
        if o.stage == "srgan" and o.content != "mse" and o.vgg_weights \
                and not Path(o.vgg_weights).expanduser().is_file():
            raise ConfigError(f"model.vgg_weights: file not found: {o.vgg_weights}")
        return load_sr(cfg.data, o.crop, o.scale, o.flip)

    @classmethod
    def resume_config(cls, cfg):
        """The stage-1 weights are in the checkpoint by now: a resume must not need the stage-1 run."""
        return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init_from=None))

    def build(self):
        c = self.shape[0]
        self.G = make_generator(self.opts, c)
        if "D" in self.nets:
            self.D = make_discriminator(self.opts, c)
        src = self.opts.init_from
        if src and Path(src).expanduser().exists():  # inference loaders pass init_from=None
            self.G.load_state_dict(stage1_weights(src))

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
        sr = self.w.G(lr)
        if o.stage == "srresnet":
            loss = F.mse_loss(sr.float(), hr.float())
            self.update("G", loss)
            self.report("loss/G_mse", loss.detach())
            return
        with frozen(self.D):
            adv = losses.g_loss("bce", self.D(sr))
        content = self.content_loss(sr, hr)
        g_total = content + o.adv_weight * adv
        self.update("G", g_total)

        lr_ = self.w.D(hr)
        lf = self.w.D(sr.detach())
        d_r, d_f = self._d_loss(lr_, True), self._d_loss(lf, False)
        self.update("D", d_r + d_f)

        self.report("loss/G_total", g_total.detach())
        self.report("loss/G_content", content.detach())
        self.report("loss/G_adv", adv.detach())
        self.report("loss/D_real", d_r.detach())
        self.report("loss/D_fake", d_f.detach())
        self.report("D/p_real", torch.sigmoid(lr_.detach().float()).mean())
        self.report("D/p_fake", torch.sigmoid(lf.detach().float()).mean())
        with torch.no_grad():
            self.report("health/mse", F.mse_loss(sr.detach().float(), hr.float()))

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
        s = evaluate(self.G, data, self.opts.scale, self.opts.eval_images, self.device)
        return {"eval/psnr_y": s["sr"]["psnr_y"], "eval/ssim_y": s["sr"]["ssim_y"],
                "eval/psnr_y_bicubic": s["bicubic"]["psnr_y"]}


# ------------------------------------------------------------------------------- weights in and out


def stage1_weights(path) -> dict:
    """G's weights from a stage-1 (or any srgan) run dir / checkpoint."""
    from ..train import checkpoint as ckpt

    c = ckpt.load(path)
    if c.config.get("recipe") != "srgan":
        raise CheckpointError(f"model.init_from={path}: a {c.config.get('recipe')} checkpoint, not srgan")
    sd = c.net("net.G")
    if not sd:
        raise CheckpointError(f"model.init_from={path}: holds no generator weights")
    return sd


class SRModel:
    """A trained super-resolution generator read from a checkpoint: ``model(lr) -> sr`` in [-1, 1]."""

    def __init__(self, G: nn.Module, opts: Options, checkpoint, ema: bool):
        self.G, self.opts, self.checkpoint, self.ema = G.eval(), opts, checkpoint, ema
        self.scale = opts.scale

    @torch.no_grad()
    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return self.G(lr)


def load_model(path, device: str = "cpu", ema: bool = True) -> SRModel:
    """The G of an srgan checkpoint (EMA copy if it has one and ``ema``), without D, VGG or ``init_from``."""
    from .. import config as C
    from ..train import checkpoint as ckpt

    c = ckpt.load(path)
    if c.config.get("recipe") != "srgan":
        raise GankitError(f"{c.path}: a {c.config.get('recipe')} checkpoint; upscaling needs an srgan one")
    cfg = C.from_dict({**c.config, "model": {**c.config.get("model", {}), "init_from": None}})
    shape = (c.state.get("data_info", {}).get("shape") or [3])
    G = make_generator(cfg.model, shape[0]).to(device)
    used = ema and "G" in c.state.get("ema_nets", [])
    G.load_state_dict(c.net("ema.G" if used else "net.G"))
    return SRModel(G, cfg.model, c, used)


# ------------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(G: nn.Module | None, data, scale: int = 4, limit: int | None = None, device="cpu",
             border: int | None = None) -> dict:
    """PSNR and SSIM (Y channel, ``scale``-px border cropped, 8-bit) of G and of bicubic on held-out images.

    Returns ``{"sr": {...}, "bicubic": {...}, "n": N, ...}``; ``G=None`` scores bicubic only."""
    from ..data.sr import bicubic_up
    from ..metrics.task import psnr, ssim

    border = scale if border is None else border
    n = len(data.heldout) if limit is None else min(limit, len(data.heldout))
    was = G.training if G is not None else False
    if G is not None:
        G.eval()
    acc = {"sr": {"psnr_y": [], "ssim_y": [], "psnr_rgb": []}, "bicubic": {"psnr_y": [], "ssim_y": [], "psnr_rgb": []}}
    try:
        for i in range(n):
            hr, lr = data.heldout_pair(i, device)
            outs = {"bicubic": bicubic_up(lr, scale)}
            if G is not None:
                outs["sr"] = G(lr).float()
            for k, out in outs.items():
                acc[k]["psnr_y"].append(psnr(out, hr, crop=border, quantize=True))
                acc[k]["ssim_y"].append(ssim(out, hr, crop=border, quantize=True))
                acc[k]["psnr_rgb"].append(psnr(out, hr, y=False, crop=border, quantize=True))
    finally:
        if G is not None:
            G.train(was)
    res = {k: {m: round(float(sum(v) / max(1, len(v))), 4) for m, v in d.items()} for k, d in acc.items() if d["psnr_y"]}
    res.update(n=n, scale=scale, border=border, channel="Y (BT.601)")
    return res
