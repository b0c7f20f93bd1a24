"""The Recipe protocol: one family's networks, optimizers, training step and sampler — nothing else.

A recipe declares its networks by name (``nets``); the Trainer checkpoints, wraps (DDP), averages (EMA) and
logs them by those names. Inside ``train_step`` a recipe calls ``self.w.<name>`` for a network whose own
weights get gradients in that backward pass (the DDP-wrapped module when distributed) and the plain
attribute otherwise, and reports scalars with ``self.report(name, tensor)`` — no ``.item()`` in the step.

A training step only computes losses. Each one goes to ``self.update(optimizer_name, loss)``, the one place that
zero-grads, runs backward (through a GradScaler under fp16, with autocast off), reports the gradient norm and
steps the optimizer. Learning-rate schedules are declared by ``lr_lambda`` (a multiplier of the base LR per step);
the Trainer turns them into ``torch.optim.lr_scheduler.LambdaLR`` objects, checkpoints them, and the NaN guard's
rollback scales their base LRs, so a cut holds for the rest of the run.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Callable, ClassVar

import torch
from torch import nn

from ..config import Config
from ..data import Dataset, load
from ..errors import ConfigError
from ..nn import grad_norm

RECIPES: dict[str, type["Recipe"]] = {}  # name -> family: a subclass that declares its `name` joins (see __init__)


class Recipe:
    name: ClassVar[str]
    Options: ClassVar[type]
    nets: ClassVar[tuple[str, ...]] = ("G", "D")
    ema_nets: ClassVar[tuple[str, ...]] = ("G",)
    conditional: ClassVar[bool] = False
    modality: ClassVar[str] = "noise"  # how a trained model is used: the gankit.pipelines class of this modality

    def __init__(self, cfg: Config, shape: tuple[int, int, int], num_classes: int = 0, device="cpu"):
        self.cfg, self.opts = cfg, cfg.model
        self.shape, self.num_classes = tuple(shape), num_classes
        self.device = torch.device(device)
        self.gen: torch.Generator | None = None  # noise source, owned (and checkpointed) by the Trainer
        self.step = 0  # set by the Trainer before each train_step
        self._report = None
        self.scalers: dict[str, torch.amp.GradScaler] = {}  # per optimizer, set by the Trainer under fp16
        self.build()
        check_batch_norm_batch(self, cfg.train.batch_size)
        for n in self.nets:
            getattr(self, n).to(self.device)
        self.w = SimpleNamespace(**{n: getattr(self, n) for n in self.nets})
        self.optim = self.make_optimizers()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "name" in cls.__dict__:  # a family, not a shared base (TranslationRecipe, GANRecipe)
            old = RECIPES.get(cls.name)
            if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
                raise TypeError(f"recipe name '{cls.name}' is taken by {old.__module__}.{old.__qualname__}")
            RECIPES[cls.name] = cls

    @classmethod
    def modality_for(cls, config: dict) -> str:
        """The modality of a checkpoint of this family, from its saved ``config`` (one stage of a family may be
        used differently from another); default: the class's ``modality``."""
        return cls.modality

    # ---- to implement -------------------------------------------------------------------------
    def build(self) -> None:
        """Create the networks as attributes named in ``nets``."""
        raise NotImplementedError

    def train_step(self, batch: dict) -> None:
        raise NotImplementedError

    def generate(self, G: nn.Module, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return G(z)

    @property
    def latent_dim(self) -> int:
        return self.opts.latent_dim

    @classmethod
    def load_data(cls, cfg: Config) -> Dataset:
        """The training data. Default: one in-memory ImageSet. A family with paired/unpaired/HR-LR data returns
        its own object with the same surface, the ``Dataset`` protocol (``data/protocol.py``): ``len()``,
        ``shape``, ``num_classes``, ``classes``, ``name``, ``source``, ``skipped``, ``tag()``, ``fingerprint()`` and
        ``batch(index, device, generator) -> dict``."""
        return load(cfg.data)

    def fixed_inputs(self, data, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """What the periodic sample grid is drawn from (saved in checkpoints): a fixed latent bank here;
        a translation family returns a fixed batch of held-out inputs instead."""
        out = {"z": self.latent(n, generator)}
        if self.conditional:
            side = max(1, round(n**0.5))
            out["label"] = torch.arange(n, device=self.device) // side % max(1, self.num_classes)
        return out

    def visualize(self, nets: dict[str, nn.Module], fixed: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """Images in [-1, 1] for the periodic grid, and how many per row. ``nets`` holds the EMA copies."""
        n = fixed["z"].shape[0]
        return self.sample(nets["G"], fixed["z"], fixed.get("label")), max(1, round(n**0.5))

    @classmethod
    def validate(cls, cfg: Config) -> None:
        """Raise ConfigError for option combinations that cannot work."""

    @classmethod
    def adopt_start(cls, cfg: Config, source) -> Config:
        """The config to build a new run from, given the checkpoint ``model.init_from`` names (``source.config``,
        ``source.state``): a recipe whose nets' sizes come from that earlier run takes them here (the returned
        config is the run's record). Default: ``cfg`` unchanged."""
        return cfg

    def start_from(self, weights: dict[str, dict[str, torch.Tensor]]) -> None:
        """Start from an earlier run's networks (``{name: state_dict}``): the Trainer reads them from the checkpoint
        that an option ``model.init_from`` names and calls this once, before the EMA copies are made. Default: load
        every net of this recipe that the checkpoint holds."""
        for n in self.nets:
            if n in weights:
                getattr(self, n).load_state_dict(weights[n])

    @classmethod
    def resume_config(cls, cfg: Config) -> Config:
        """The config a resumed run rebuilds the recipe from. Options that only say where the *starting*
        weights come from (the checkpoint now holds them) are cleared here, so a resume never needs them."""
        return cfg

    # ---- shared -------------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {n: getattr(self, n) for n in self.nets}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        t = self.cfg.train
        lrs = {"G": t.lr, "D": t.lr_d if t.lr_d is not None else t.lr}
        beta1 = {"D": t.beta1_d} if t.beta1_d is not None else {}
        return {n: make_optimizer(getattr(self, n).parameters(), t, lrs.get(n, t.lr), beta1.get(n)) for n in self.nets}

    def lr_lambda(self, total_steps: int | None) -> Callable[[int], float] | dict[str, Callable[[int], float]] | None:
        """The LR schedule: a function step -> multiplier of the base LR (or one per optimizer name); ``None`` for a
        constant LR. ``total_steps`` is the run's step budget (``None`` under a time budget)."""
        return None

    def ema_decay(self, step: int, ema: float) -> float:
        """The EMA decay at ``step`` for the configured ``train.ema``: a ramp-up (decay <= (1 + step) / (10 + step)),
        so early on the average follows G closely and a short run's EMA is not dominated by the initial weights."""
        return min(ema, (1 + step) / (10 + step))

    def ema_bn_forward(self, name: str, net: nn.Module, n: int, generator: torch.Generator, data) -> bool:
        """One forward pass of ``net``, the EMA copy of network ``name``, on ``n`` inputs drawn from ``generator``
        as training draws them (``train.ema_bn=recompute`` re-estimates its batch-norm statistics from a few of
        these). Default, for the G of a family drawn from latents (modality noise, age, voxel): latents and uniform
        labels through ``generate``. False where this recipe cannot draw the net's inputs (a family whose G takes
        images or text overrides this to draw them from ``data``): its statistics are then copied from the raw net."""
        if name != "G" or self.modality not in ("noise", "age", "voxel"):
            return False
        label = None
        if self.conditional:
            label = torch.randint(0, self.num_classes, (n,), generator=generator, device=self.device)
        self.generate(net, self.latent(n, generator), label)
        return True

    def update(self, name: str, loss: torch.Tensor) -> None:
        """One optimizer step of optimizer ``name`` on ``loss``: zero-grad, backward, ``health/grad_<name>``, step.

        Under fp16 the loss is scaled by that optimizer's GradScaler, the gradients unscaled before the norm is
        taken, and a step with inf/NaN gradients is skipped (the scale is lowered). While the scale is above 1 that
        is the scaler finding its range, not divergence, so the step reports ``health/fp16_skipped_<name>`` (the
        fraction of skipped steps in a log row) instead of an infinite gradient norm the trainer would roll back
        on; gradients still non-finite at a scale of 1 or less are reported as they are. Autocast is off here: it
        covers the forward passes and the losses only."""
        opt = self.optim[name]
        opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(name)
        with torch.autocast(self.device.type, enabled=False):
            if scaler is None:
                loss.backward()
                self.report(f"health/grad_{name}", grad_norm(_params(opt)))
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                norm = grad_norm(_params(opt))
                # scaler.step syncs on the same check anyway; at a scale <= 1 an overflow is no longer the scale's
                calibrating = not bool(torch.isfinite(norm)) and scaler.get_scale() > 1.0
                if not calibrating:
                    self.report(f"health/grad_{name}", norm)
                self.report(f"health/fp16_skipped_{name}", torch.tensor(float(calibrating)))
                scaler.step(opt)
                scaler.update()
        self.after_update(name)

    def after_update(self, name: str) -> None:
        """Called after each optimizer step (historical averaging keeps its running mean here)."""

    def report(self, name: str, value: torch.Tensor) -> None:
        if self._report is not None:
            self._report(name, value)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(
            n, self.latent_dim, generator=generator if generator is not None else self.gen, device=self.device
        )

    def random_labels(self, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        return torch.randint(0, self.num_classes, (n,), generator=self.gen, device=self.device)

    @torch.no_grad()
    def sample(self, G: nn.Module, z: torch.Tensor, label=None, batch: int = 256) -> torch.Tensor:
        """Images in [-1, 1] for latents ``z`` (in eval mode, restoring the mode after)."""
        was = G.training
        G.eval()
        try:
            outs = []
            for i in range(0, z.shape[0], batch):
                lab = None if label is None else label[i : i + batch]
                outs.append(self.generate(G, z[i : i + batch], lab).float())
            return torch.cat(outs) if outs else torch.empty(0, *self.shape)
        finally:
            G.train(was)

    def epoch_report(self, data, step: int) -> dict[str, float]:
        """Periodic, recipe-specific evaluation (e.g. seed 000's D accuracy on 150 real + 150 fake)."""
        return {}


def check_batch_norm_batch(recipe: "Recipe", batch_size: int) -> None:
    """Batch norm after a dense layer has one value per channel in a batch of one: training cannot normalise it."""
    if batch_size >= 2:
        return
    for n in recipe.nets:
        if any(isinstance(m, nn.BatchNorm1d) for m in getattr(recipe, n).modules()):
            raise ConfigError(
                f"train.batch_size={batch_size}: {recipe.name}'s {n} has batch norm after a dense layer, "
                f"which needs at least 2 samples per batch (use train.batch_size>=2)"
            )


def _params(opt: torch.optim.Optimizer):
    return (p for g in opt.param_groups for p in g["params"])


def make_optimizer(params, t, lr: float, beta1: float | None = None) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    fused = {"fused": True} if getattr(t, "fused", False) else {}
    if t.optimizer == "adam":
        b1 = t.beta1 if beta1 is None else beta1
        return torch.optim.Adam(params, lr=lr, betas=(b1, t.beta2), eps=getattr(t, "eps", 1e-8), **fused)
    return torch.optim.SGD(params, lr=lr, momentum=t.momentum, nesterov=t.nesterov, **fused)


@contextlib.contextmanager
def eval_mode(*nets: nn.Module):
    """``nets`` in inference mode (batch norm's running statistics, no dropout) and no autograd; modes restored."""
    modes = [n.training for n in nets]
    for n in nets:
        n.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for n, was in zip(nets, modes):
            n.train(was)


def predict(net: nn.Module, *args, **kw) -> torch.Tensor:
    """``net``'s output in inference mode: what Keras' ``model.predict`` gives the books' D as its fakes
    (the ``fakes_eval`` options)."""
    with eval_mode(net):
        return net(*args, **kw)


@contextlib.contextmanager
def frozen(*modules: nn.Module, keep=()):
    """Turn off weight gradients of ``modules`` (a critic used only to score G's samples), restore after; the
    parameters in ``keep`` still get gradients (seed 002's D batch norm, trained in G's step)."""
    keep_ids = {id(p) for p in keep}
    saved = [(p, p.requires_grad) for m in modules for p in m.parameters() if id(p) not in keep_ids]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, r in saved:
            p.requires_grad_(r)
