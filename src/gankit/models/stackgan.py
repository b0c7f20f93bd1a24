"""StackGAN, text to image (Zhang et al. 2017; the book's chapter 6 as presets ``book-stage1``/``book-stage2``).

Stage I (``stage: stage1``): G draws a 64 px image from [z, c], c = mu + sigma * eps from the conditioning
augmentation of the caption embedding; the matching-aware D scores (real, right caption) as real and both
(real, mismatched caption) and (fake, right caption) as fake:
``L_D = bce(D(x, t), 0.9) + 0.5 * (bce(D(x, t'), 0) + bce(D(G(z, t), t), 0))`` in one step, and
``L_G = bce(D(G(z, t), t), 1) + 2.0 * KL(N(mu, sigma^2) || N(0, I))``.
Stage II (``stage: stage2``): G2 encodes the frozen stage-I G's image with its own c, refines it through
residual blocks and upsamples it ``scale`` (2 or 4) times; D2 is the same matching-aware critic at the HR size.
Stage II starts from a stage-I run (``model.init_from=RUN_OR_CKPT``), whose G (and char encoder) it keeps frozen
as the ``G1`` (and ``T``) nets, so its checkpoints need nothing else.

Captions are embedded by ``model.text_encoder`` (``nn/text.py``): ``minilm`` (default, frozen, embedded once),
``char-cnn-rnn`` (trained on the fly with the joint embedding loss against an image encoder ``E``: nets ``T``, ``E``
and optimizer ``T``), ``ngrams`` (weight-free, for tests) or ``precomputed`` (CUB pickles).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError, DataError
from ..nn import init_weights
from ..nn.stackgan import Stage1D, Stage1G, Stage2D, Stage2G, kl_loss
from ..nn.text import MINILM_DIM, CharCNNRNN, CharEncoder, ImageEmbedder, char_ids, joint_embedding_loss, text_encoder
from .base import Recipe, eval_mode, frozen, make_optimizer

TEXT_DIMS = {"minilm": MINILM_DIM, "ngrams": 256, "char-cnn-rnn": 256, "precomputed": 1024}


@dataclass
class Options:
    stage: Literal["stage1", "stage2"] = "stage1"
    text_encoder: Literal["minilm", "char-cnn-rnn", "ngrams", "precomputed"] = "minilm"
    text_dim: int = 0  # caption embedding size; 0: the encoder's (minilm 384, ngrams/char 256, CUB pickles 1024)
    latent_dim: int = 100
    condition_dim: int = 128  # c (the CA output)
    d_text_dim: int = 128  # N_d: D's compressed caption, replicated 4 x 4
    g_features: int = 16  # base width f, CPU-sized (book 64: G1 16f..f, G2 2f..8f, D f..8f / f..32f)
    d_features: int = 16  # book: 64
    g1_features: int = 0  # stage II: the stage-I G's width (0: read from init_from)
    fc_bn: bool = False  # BN after G1's dense layer (the paper; the book has none)
    res_blocks: int = 4
    scale: int = 2  # stage II output / stage-I size (2 or 4)
    bn_momentum: float = 0.1  # PyTorch convention; the book's Keras default momentum 0.99 is 0.01 here
    bn_eps: float = 1e-5
    kl_weight: float = 2.0
    real_label: float = 0.9  # one-sided smoothing of D's (real, right) target (book)
    wrong_weight: float = 0.5  # L_D = real + w * (wrong + fake)
    joint_weight: float = 1.0  # char-cnn-rnn: weight of the joint embedding loss
    init_from: str | None = None  # stage II: the stage-I run dir / checkpoint
    lr_halve_every: int | None = None  # halve both LRs every N steps (the paper: every 100 epochs)
    eval_pairs: int = 64  # held-out pairs scored by the periodic report
    init: Literal["torch", "keras"] = "torch"  # keras: Glorot-uniform kernels, zero biases (the book's Keras default)
    fakes_eval: bool = False  # book: D's fakes from G in inference mode (Keras predict: BN running statistics)


# --------------------------------------------------------------------------- the recipe


class StackGAN(Recipe):
    name = "stackgan"
    modality = "text"
    Options = Options

    def __init__(self, cfg, shape, num_classes=0, device="cpu"):
        o = cfg.model
        nets = ["G", "D"]
        if o.stage == "stage2":
            nets.append("G1")
        if o.text_encoder == "char-cnn-rnn":
            nets += ["T"] + (["E"] if o.stage == "stage1" else [])
        self.nets = tuple(nets)
        self._encoder = None
        super().__init__(cfg, shape, num_classes, device)

    # ---------------------------------------------------------------- config and data
    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        if not o.text_dim:
            o.text_dim = TEXT_DIMS[o.text_encoder]
        if o.text_encoder == "minilm" and o.text_dim != MINILM_DIM:
            raise ConfigError(f"model.text_dim={o.text_dim}: minilm embeddings have {MINILM_DIM} dimensions")
        if o.scale not in (2, 4):
            raise ConfigError(f"model.scale must be 2 or 4, got {o.scale}")
        if o.stage == "stage2" and not o.init_from and not o.g1_features:
            raise ConfigError("model.init_from: stage II starts from a stage-I run (model.init_from=RUN_DIR)")
        size = cfg.data.size or (128 if o.stage == "stage2" else 64)
        lo = size // o.scale if o.stage == "stage2" else size
        if lo < 16 or lo & (lo - 1):
            raise ConfigError(
                f"data.size={size}: the stage-I size must be a power of two >= 16 "
                f"(stage II: data.size = stage-I size x model.scale)"
            )
        for k in ("g_features", "d_features", "latent_dim", "condition_dim", "d_text_dim"):
            if getattr(o, k) < 1:
                raise ConfigError(f"model.{k} must be >= 1, got {getattr(o, k)}")

    @classmethod
    def load_data(cls, cfg):
        """Captioned images, their captions embedded by the frozen encoder (or char ids for char-cnn-rnn)."""
        from ..data.captions import embed_captions, load_captions

        o = cfg.model
        if o.stage == "stage2" and o.init_from and not Path(o.init_from).expanduser().exists():
            raise ConfigError(f"model.init_from: not found: {o.init_from}")
        hr = (cfg.data.size or 128) if o.stage == "stage2" else None
        data = load_captions(dataclasses.replace(cfg.data, size=cfg.data.size or 64), hr)
        parts = [data] + ([data.test] if data.test is not None else [])
        if o.text_encoder == "precomputed":
            if data.embeddings is None:
                raise ConfigError(
                    f"model.text_encoder=precomputed: {data.name} has no precomputed embeddings "
                    f"(CUB's char-CNN-RNN pickles); use minilm or char-cnn-rnn"
                )
        elif data.embeddings is not None and o.text_encoder != "precomputed":
            raise ConfigError(f"{data.name}: holds precomputed caption embeddings; use model.text_encoder=precomputed")
        elif o.text_encoder == "char-cnn-rnn":
            for s in parts:
                s.tokens = char_ids(s.captions)
        else:  # each distinct caption once (Twemoji and OpenMoji of one emoji share theirs), train and test together
            embed_captions(parts, text_encoder(o.text_encoder, o.text_dim))
        for s in parts:
            if s.embeddings is not None and s.embeddings.shape[1] != o.text_dim:
                raise DataError(
                    f"{data.name}: caption embeddings have {s.embeddings.shape[1]} dimensions, "
                    f"model.text_dim is {o.text_dim}"
                )
        return data

    @classmethod
    def resume_config(cls, cfg):
        """The stage-I weights are in the checkpoint (nets G1, T): a resume must not need the stage-I run."""
        return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init_from=None))

    # ---------------------------------------------------------------- networks
    @property
    def latent_dim(self) -> int:
        return self.opts.latent_dim

    def _stage1_g(self, f: int, size: int) -> Stage1G:
        o = self.opts
        return Stage1G(
            o.text_dim, o.latent_dim, o.condition_dim, f, size, o.fc_bn, o.bn_momentum, o.bn_eps, self.shape[0]
        )

    def build(self):
        o, c, size = self.opts, self.shape[0], self.shape[-1]
        if o.stage == "stage1":
            self.G = init_weights(self._stage1_g(o.g_features, size), o.init)
            self.D = init_weights(
                Stage1D(o.text_dim, o.d_features, size, o.d_text_dim, o.bn_momentum, o.bn_eps, c), o.init
            )
        else:
            self.G1 = self._stage1_g(o.g1_features, size // o.scale).eval().requires_grad_(False)
            self.G = init_weights(
                Stage2G(o.text_dim, o.condition_dim, o.g_features, o.scale, o.res_blocks, o.bn_momentum, o.bn_eps, c),
                o.init,
            )
            self.D = init_weights(
                Stage2D(o.text_dim, o.d_features, size, o.d_text_dim, o.bn_momentum, o.bn_eps, c), o.init
            )
        if o.text_encoder == "char-cnn-rnn":
            self.T = CharCNNRNN(o.text_dim)
            if o.stage == "stage1":
                self.E = ImageEmbedder(o.text_dim, max(8, o.d_features // 2), c)
            else:
                self.T.eval().requires_grad_(False)

    @classmethod
    def adopt_start(cls, cfg, source):
        """Stage II: check that the stage-I run ``model.init_from`` names fits, and take its G's width (G1 must be
        built that wide before its weights can load)."""
        o = cfg.model
        if o.stage != "stage2":
            return cfg
        m = source.config.get("model", {})
        if source.config.get("recipe") != "stackgan" or m.get("stage") != "stage1":
            raise CheckpointError(f"model.init_from={o.init_from}: not a stackgan stage-I checkpoint")
        for k in ("text_encoder", "text_dim", "latent_dim", "condition_dim", "fc_bn", "bn_eps"):
            if m.get(k) != getattr(o, k):
                raise ConfigError(
                    f"model.{k}={getattr(o, k)} differs from the stage-I run's {m.get(k)} ({o.init_from})"
                )
        lo = (source.state.get("data_info", {}).get("shape") or [0, 0, 0])[-1]
        if cfg.data.size is not None and lo * o.scale != cfg.data.size:
            raise ConfigError(
                f"data.size={cfg.data.size}: the stage-I run draws {lo} px images and "
                f"model.scale={o.scale} (data.size must be {lo * o.scale})"
            )
        return dataclasses.replace(cfg, model=dataclasses.replace(o, g1_features=int(m.get("g_features"))))

    def start_from(self, weights):
        """Stage II: G1 (the stage-I G, its EMA copy when it has one) and, with char-cnn-rnn, the text encoder."""
        if self.opts.stage != "stage2":
            return super().start_from(weights)
        self.G1.load_state_dict(weights.get("ema.G") or weights["G"])
        if self.opts.text_encoder == "char-cnn-rnn":
            self.T.load_state_dict(weights["T"])

    def make_optimizers(self):
        t = self.cfg.train
        lr_d = t.lr_d if t.lr_d is not None else t.lr
        opt = {"G": make_optimizer(self.G.parameters(), t, t.lr), "D": make_optimizer(self.D.parameters(), t, lr_d)}
        if "E" in self.nets:
            opt["T"] = make_optimizer([*self.T.parameters(), *self.E.parameters()], t, t.lr)
        return opt

    def lr_lambda(self, total_steps):
        k = self.opts.lr_halve_every
        return None if not k else (lambda step: 0.5 ** (step // k))

    # ---------------------------------------------------------------- text
    def embed_batch(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(right, mismatched) caption embeddings of a batch: stored vectors, or the char encoder's (no grad)."""
        if "emb" in batch:
            return batch["emb"], batch["emb_wrong"]
        with torch.no_grad():
            was = self.T.training
            self.T.eval()
            e = self.T(torch.cat([batch["tokens"], batch["tokens_wrong"]]))
            self.T.train(was)
        n = batch["tokens"].shape[0]
        return e[:n], e[n:]

    def encoder(self):
        """The text encoder for new captions (prompts)."""
        o = self.opts
        if o.text_encoder == "precomputed":
            raise ConfigError(
                "this model was trained on precomputed caption embeddings (CUB pickles): it cannot encode new captions"
            )
        if o.text_encoder == "char-cnn-rnn":
            return CharEncoder(self.T)
        if self._encoder is None:
            self._encoder = text_encoder(o.text_encoder, o.text_dim)
        return self._encoder

    def noise(self, n: int, generator=None) -> dict:
        g = generator if generator is not None else self.gen
        r = lambda d: torch.randn(n, d, generator=g, device=self.device)
        return {"z": r(self.opts.latent_dim), "eps1": r(self.opts.condition_dim), "eps2": r(self.opts.condition_dim)}

    def forward_g(self, G: nn.Module, emb: torch.Tensor, noise: dict, G1: nn.Module | None = None):
        """(image, mu, log sigma, stage-I image or None): stage I, or stage II on the frozen G1's output."""
        if self.opts.stage == "stage1":
            x, mu, ls = G(emb, noise["z"], noise["eps1"])
            return x, mu, ls, None
        G1 = G1 if G1 is not None else self.G1
        with torch.no_grad():
            lo, _, _ = G1(emb, noise["z"], noise["eps1"])
        x, mu, ls = G(emb, lo, noise["eps2"])
        return x, mu, ls, lo

    def draw(self, G: nn.Module, emb: torch.Tensor, noise: dict) -> dict[str, torch.Tensor]:
        """The text modality's drawing call (``gankit.pipelines.text``): ``image``, and for stage II ``stage1``,
        the frozen stage-I G's draft it refined."""
        x, _, _, lo = self.forward_g(G, emb, noise)
        return {"image": x} if lo is None else {"image": x, "stage1": lo}

    @property
    def draws(self) -> tuple[str, ...]:
        return ("image", "stage1") if self.opts.stage == "stage2" else ("image",)

    # ---------------------------------------------------------------- training
    def d_losses(self, D, real, fake, emb, wrong):
        o = self.opts
        lr, lw, lf = D(real, emb), D(real, wrong), D(fake, emb)
        l_real = F.binary_cross_entropy_with_logits(lr.float(), torch.full_like(lr.float(), o.real_label))
        l_wrong = F.binary_cross_entropy_with_logits(lw.float(), torch.zeros_like(lw.float()))
        l_fake = F.binary_cross_entropy_with_logits(lf.float(), torch.zeros_like(lf.float()))
        return l_real + o.wrong_weight * (l_wrong + l_fake), (l_real, l_wrong, l_fake), (lr, lw, lf)

    def train_step(self, batch):
        o = self.opts
        real = batch["image"]
        n = real.shape[0]
        # ---- text encoder (char-cnn-rnn only): joint embedding of real images and their captions
        if "E" in self.nets:
            txt = self.w.T(batch["tokens"])
            img = self.w.E(real)
            same = batch["group"][:, None] == batch["group"][None, :]
            joint = joint_embedding_loss(img.float(), txt.float(), same)
            self.update("T", o.joint_weight * joint)
            self.report("loss/text_joint", joint.detach())
        emb, wrong = self.embed_batch(batch)
        noise = self.noise(n)
        eval_fake = None
        if o.fakes_eval:  # before G's training forward moves its BN statistics
            with eval_mode(self.G):
                eval_fake = self.forward_g(self.G, emb, noise)[0]
        fake, mu, log_sigma, _ = self.forward_g(self.w.G, emb, noise)
        d_fake = fake.detach() if eval_fake is None else eval_fake

        # ---- D main: (real, right) real; (real, mismatched) and (fake, right) fake; one step
        d_loss, (l_real, l_wrong, l_fake), (lr, lw, lf) = self.d_losses(self.w.D, real, d_fake, emb, wrong)
        self.update("D", d_loss)

        # ---- G main: fool D on (fake, right) + KL of the conditioning augmentation
        with frozen(self.D):
            adv = F.binary_cross_entropy_with_logits(self.D(fake, emb).float(), torch.ones(n, device=real.device))
        kl = kl_loss(mu.float(), log_sigma.float())
        self.update("G", adv + o.kl_weight * kl)

        self.report("loss/D", d_loss.detach())
        self.report("loss/D_real", l_real.detach())
        self.report("loss/D_wrong", l_wrong.detach())
        self.report("loss/D_fake", l_fake.detach())
        self.report("loss/G_adv", adv.detach())
        self.report("loss/G_kl", kl.detach())
        self.report("D/acc_real", (lr.detach() > 0).float().mean())
        self.report("D/acc_wrong", (lw.detach() < 0).float().mean())
        self.report("D/acc_fake", (lf.detach() < 0).float().mean())

    # ---------------------------------------------------------------- visuals and reports
    def fixed_inputs(self, data, n, generator):
        """Rows of held-out captions (the training set's when there is no held-out split): the real image first,
        then samples with fixed noise."""
        from ..data.captions import grid_rows

        held, items, caps = grid_rows(data, n)
        side = len(items)
        self.grid_captions = [held.captions[c] for c in caps]
        out = {"real": held.images[torch.tensor(items)].to(self.device).float() / 127.5 - 1}
        if held.embeddings is not None:
            out["emb"] = held.embeddings[torch.tensor(caps)].to(self.device).repeat_interleave(side, 0)
        else:
            out["tokens"] = held.tokens[torch.tensor(caps)].to(self.device).repeat_interleave(side, 0)
        out.update(self.noise(side * side, generator))
        return out

    @torch.no_grad()
    def visualize(self, nets, fixed):
        side = fixed["real"].shape[0]
        emb = fixed["emb"] if "emb" in fixed else self._embed_tokens(nets, fixed["tokens"])
        with eval_mode(nets["G"]):
            x, _, _, _ = self.forward_g(nets["G"], emb, fixed, nets.get("G1"))
        x = x.float().view(side, side, *x.shape[1:]).clone()
        x[:, 0] = fixed["real"]
        return x.flatten(0, 1), side

    def _embed_tokens(self, nets, tokens):
        T = nets.get("T", getattr(self, "T", None))
        with eval_mode(T):
            return T(tokens)

    def epoch_report(self, data, step):
        held = data.test if data.test is not None and len(data.test) else data
        return {"eval/d_loss_heldout": heldout_d_loss(self, held, self.opts.eval_pairs)}


@torch.no_grad()
def heldout_d_loss(recipe: StackGAN, data, n: int = 64, seed: int = 0) -> float:
    """The matching-aware D loss (eval mode, fixed noise and pairs) on ``n`` held-out (image, caption) pairs."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data), generator=g)[:n]
    b = data.batch(idx, recipe.device, g)
    if "tokens" in b:
        b["emb"], b["emb_wrong"] = recipe._embed_tokens({}, b["tokens"]), recipe._embed_tokens({}, b["tokens_wrong"])
    nets = [recipe.G, recipe.D]
    modes = [m.training for m in nets]
    for m in nets:
        m.eval()
    try:
        gcpu = torch.Generator(recipe.device).manual_seed(seed + 1)
        fake, _, _, _ = recipe.forward_g(recipe.G, b["emb"], recipe.noise(len(idx), gcpu))
        loss, _, _ = recipe.d_losses(recipe.D, b["image"], fake, b["emb"], b["emb_wrong"])
    finally:
        for m, w in zip(nets, modes):
            m.train(w)
    return float(loss)
