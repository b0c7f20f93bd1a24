"""The one training loop for every family. It knows nothing about any particular GAN.

Device and precision, seeding, DDP (each network wrapped separately, rank 0 writes), EMA, budgets
(steps / epochs / minutes), periodic logs, grids, checkpoints and recipe reports, resume, Ctrl-C.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import signal
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .. import config as C
from ..data import Dataset
from ..errors import CheckpointError, ConfigError
from ..models import recipe_class
from ..viz.grid import save_grid
from ..viz.plots import plot_losses
from . import checkpoint as ckpt
from .ema import standing_stats
from .fast import apply_fast_path, resolve_precision, to_channels_last
from .health import HealthMonitor, TrainingDiverged, params_finite  # noqa: E402  (TrainingDiverged: re-exported)
from .loader import start_weights
from .rundir import new_run_dir
from .sampler import EpochSampler
from .stats import Collector


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name}: CUDA is not available on this machine")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("train.device=mps: MPS is not available on this machine")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise ConfigError(f"train.device must be auto, cpu, cuda[:N] or mps, got '{name}'")
    return torch.device(name)


def data_card(data) -> dict:
    """What a data set says about its pixels for the run card (channel policy, cache); {} when it says nothing."""
    card = getattr(data, "card", None)
    return card() if callable(card) else {}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    def __init__(
        self,
        cfg: C.Config,
        out: str | Path = "runs",
        resume: str | Path | None = None,
        progress: bool | None = None,
        data: Dataset | None = None,
        evaluator=None,
    ):
        """``evaluator``: what ``train.eval_every`` runs, built as ``evaluator(cfg, data, device)`` on rank 0; an object
        whose ``run(trainer)`` logs scores and returns True when the sampling nets are the best so far (the caller
        chooses it: ``gankit.api.trainer`` passes ``metrics.periodic.PeriodicEval``).

        The steps below run in this order because each draws from the seeded RNGs the one before left behind."""
        self.cfg = cfg
        self._join_processes(cfg.train)
        self.progress = sys.stdout.isatty() if progress is None else progress
        seed_everything(cfg.train.seed + self.rank)
        cls = recipe_class(cfg.recipe)
        build_cfg = cls.resume_config(cfg) if resume is not None else cfg  # self.cfg keeps the run's record
        self.data = self._load_data(cls, build_cfg, data)
        self._build_recipe(cls, build_cfg)  # with model.init_from, self.cfg becomes what that run's nets need
        self._prepare_training()
        self.step = 0
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.best = None
        self.health = HealthMonitor(self.cfg.train.max_rollbacks, self.cfg.train.rollback_lr_factor)  # NaN guard
        self._good = None  # in-memory state to roll back to before the first checkpoint
        self.evaluator = self._make_evaluator(evaluator)  # periodic FID/KID on rank 0; picks checkpoints/best
        self._open_run(out, resume)
        if self.distributed:
            self._wrap_ddp()
        self._tb = None

    # ------------------------------------------------------------------ setup steps (in __init__'s order)
    def _join_processes(self, t: C.TrainConfig) -> None:
        """Rank and world size (torchrun's environment), the device, the process group, the CPU threads."""
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.is_main = self.rank == 0
        self.device = pick_device(t.device)
        if self.distributed and not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group(backend)
        if t.threads:
            torch.set_num_threads(t.threads)

    def _load_data(self, cls, build_cfg: C.Config, data: Dataset | None) -> Dataset:
        """The data set handed in, or the recipe's own; says how many files it could not read."""
        data = data if data is not None else cls.load_data(build_cfg)
        if data.skipped and self.is_main:
            print(f"skipped {data.skipped} unreadable image(s)", file=sys.stderr)
        return data

    def _build_recipe(self, cls, build_cfg: C.Config) -> None:
        """The recipe's nets and optimizers, from ``model.init_from``'s weights when set (a new run: a resume has
        them in its own checkpoint), with the report collector and its seeded noise generator."""
        init_from = getattr(build_cfg.model, "init_from", None)
        source = ckpt.load(init_from) if init_from else None
        if source is not None:
            build_cfg = cls.adopt_start(build_cfg, source)
            self.cfg = build_cfg
        self.recipe = cls(build_cfg, self.data.shape, self.data.num_classes, self.device)
        if source is not None:
            self.recipe.start_from(start_weights(source, cls.name))
        self.recipe._report = self.stats = Collector()
        self.recipe.gen = torch.Generator(self.device).manual_seed(self.cfg.train.seed * 7919 + 1 + self.rank)

    def _prepare_training(self) -> None:
        """EMA copies, the fast path and loss scaling, the data order, LR schedulers, the augmentation generator and
        the fixed inputs of the sample grid."""
        t = self.cfg.train
        self.ema = {
            n: copy.deepcopy(getattr(self.recipe, n)).eval().requires_grad_(False)
            for n in self.recipe.ema_nets
            if t.ema > 0
        }
        self._bn_step = None  # the step the EMA copies' batch-norm statistics were last re-estimated at
        self._autocast = apply_fast_path(self.recipe, t, self.device)  # after the EMA copies: they stay eager
        if resolve_precision(t.precision, self.device) == "fp16":  # bf16 and fp32 need no loss scaling
            self.recipe.scalers = {n: torch.amp.GradScaler(self.device.type) for n in self.recipe.optim}
        try:
            self.sampler = EpochSampler(len(self.data), t.batch_size, t.seed, self.rank, self.world)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.schedulers = self._make_schedulers()
        self.data_gen = torch.Generator().manual_seed(t.seed * 31 + 17 + self.rank)  # augmentation draws
        g = torch.Generator(self.device).manual_seed(t.seed + 12345)
        self.fixed = self.recipe.fixed_inputs(self.data, t.grid * t.grid, g)

    def _make_evaluator(self, evaluator):
        """What ``train.eval_every`` runs (rank 0 only), or None."""
        if not (self.cfg.train.eval_every and self.is_main):
            return None
        if evaluator is None:
            raise ConfigError(
                "train.eval_every: this Trainer was given no evaluator "
                "(train through gankit.api.trainer / api.train / `gankit train`)"
            )
        return evaluator(self.cfg, self.data, self.device)

    def _open_run(self, out: str | Path, resume: str | Path | None) -> None:
        """A new numbered run directory under ``out`` (rank 0), or the resumed run's, its checkpoint restored. A run
        without any budget is refused before a directory exists."""
        if self.total_steps() is None and self.cfg.train.minutes is None:
            raise ConfigError(
                "no budget: set --steps, --epochs or --minutes (train.steps / train.epochs / train.minutes)"
            )
        self._new_dir = resume is None and self.is_main
        if resume is not None:
            self.run_dir = Path(resume)
            self._restore(ckpt.load(resume))
        else:
            self.run_dir = new_run_dir(out, f"{self.cfg.recipe}-{self.data.tag()}") if self.is_main else None

    # ------------------------------------------------------------------ setup helpers
    def _make_schedulers(self) -> dict[str, torch.optim.lr_scheduler.LambdaLR]:
        """One LambdaLR per optimizer from the recipe's ``lr_lambda`` (constant 1 when it declares none), so every
        LR change — a schedule or the NaN guard's cut of the base LRs — goes through one object that is saved."""
        lam = self.recipe.lr_lambda(self.total_steps())
        out = {}
        for n, opt in self.recipe.optim.items():
            f = lam.get(n) if isinstance(lam, dict) else lam
            out[n] = torch.optim.lr_scheduler.LambdaLR(opt, f if f is not None else _constant)
        return out

    def scale_lr(self, factor: float, floor: dict[str, list[float]] | None = None) -> dict[str, float]:
        """Multiply every scheduler's base LRs by ``factor`` (after taking the lower of each and ``floor``) and
        apply them now; returns the first base LR per optimizer."""
        for n, sch in self.schedulers.items():
            lows = floor.get(n, sch.base_lrs) if floor else sch.base_lrs
            sch.base_lrs = [min(b, f) * factor for b, f in zip(sch.base_lrs, lows)]
            for g, b, lam in zip(sch.optimizer.param_groups, sch.base_lrs, sch.lr_lambdas):
                g["lr"] = b * lam(sch.last_epoch)
        return {n: sch.base_lrs[0] for n, sch in self.schedulers.items()}

    def _wrap_ddp(self):
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        for n, net in self.recipe.networks().items():
            if any(p.requires_grad for p in net.parameters()):
                setattr(self.recipe.w, n, DDP(net, device_ids=ids))
        # DDP broadcast rank 0's weights at wrap time; make the EMA copies agree as well.
        for n, e in self.ema.items():
            e.load_state_dict(getattr(self.recipe, n).state_dict())

    def _restore(self, c: ckpt.Checkpoint):
        self._bn_step = None
        nets = self.recipe.networks()
        for n, net in nets.items():
            sd = c.net(f"net.{n}")
            if not sd:
                raise CheckpointError(f"{c.path}: holds no weights for network {n}")
            c.load_into(net, f"net.{n}")
        for n, e in self.ema.items():
            if c.net(f"ema.{n}"):
                c.load_into(e, f"ema.{n}")
            else:
                e.load_state_dict(nets[n].state_dict())
        for n, opt in self.recipe.optim.items():
            meta = c.state.get("optim", {}).get(n)
            if meta is not None:
                opt.load_state_dict(ckpt.unpack_optimizer(f"optim.{n}", meta, c.tensors))
                match_param_layout(opt)
        for n, sd in c.state.get("sched", {}).items():
            if n in self.schedulers:
                self.schedulers[n].load_state_dict(sd)
        for n, sd in c.state.get("scaler", {}).items():
            if n in self.recipe.scalers:
                self.recipe.scalers[n].load_state_dict(sd)
        for k in self.fixed:
            if f"fixed.{k}" in c.tensors:
                self.fixed[k] = c.tensors[f"fixed.{k}"].to(self.device)
        if "rng.data" in c.tensors:
            self.data_gen.set_state(c.tensors["rng.data"])
        ckpt.restore_rng(c.state["rng"], c.tensors, self.recipe.gen)
        self.sampler.load(c.state["data"])
        self.step = c.step
        self.elapsed = float(c.state.get("elapsed", 0.0))
        self.best = c.state.get("best")
        if self.rank > 0:  # only rank 0's RNG streams are saved: give the other ranks fresh, distinct ones
            torch.manual_seed(self.cfg.train.seed * 1_000_003 + self.rank * 7919 + self.step)
            self.recipe.gen.manual_seed(self.cfg.train.seed * 7919 + 1 + self.rank + 104729 * self.step)

    # ------------------------------------------------------------------ budgets
    def total_steps(self) -> int | None:
        t, limits = self.cfg.train, []
        if t.steps is not None:
            limits.append(t.steps)
        if t.epochs is not None:
            limits.append(math.ceil(t.epochs * self.sampler.steps_per_epoch))
        return min(limits) if limits else None

    # ------------------------------------------------------------------ I/O (rank 0)
    def _write_start_files(self, resumed: bool):
        d = self.run_dir
        (d / "samples").mkdir(parents=True, exist_ok=True)
        cfg_text = C.dump(self.cfg)
        if not resumed:
            ckpt.write_text_atomic(d / "config.yaml", cfg_text)
            info = {
                "gankit": ckpt.gankit_version(),
                "torch": torch.__version__,
                "python": sys.version.split()[0],
                "device": str(self.device),
                "world_size": self.world,
                "argv": sys.argv,
                "data": {
                    "name": self.data.name,
                    "source": self.data.source,
                    "n": len(self.data),
                    "shape": list(self.data.shape),
                    "fingerprint": self.data.fingerprint(),
                    "skipped": self.data.skipped,
                    **data_card(self.data),
                },
                "params": {n: sum(p.numel() for p in m.parameters()) for n, m in self.recipe.networks().items()},
            }
            ckpt.write_text_atomic(d / "run.json", json.dumps(info, indent=1))
        else:  # drop log lines from steps the checkpoint never reached (a crash after the last save)
            m = d / "metrics.jsonl"
            if m.exists():
                keep = [
                    ln for ln in m.read_text().splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= self.step
                ]
                ckpt.write_text_atomic(m, "".join(ln + "\n" for ln in keep))

    def tb(self):
        if self._tb is None and self.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=self.step or None)
            except ImportError:
                self._tb = False
        return self._tb or None

    def log(self, row: dict):
        if not self.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        w = self.tb()
        if w is not None:
            for k, v in row.items():
                if "/" in k and isinstance(v, (int, float)) and math.isfinite(v):
                    w.add_scalar(k, v, row["step"])

    def sampling_nets(self) -> dict:
        self.ema_bn_stats()
        return {n: self.ema.get(n, getattr(self.recipe, n)) for n in self.recipe.nets}

    def ema_bn_stats(self) -> None:
        """``train.ema_bn=recompute``: the EMA copies' batch-norm statistics re-estimated from their own forward
        passes (``train/ema.py``), once per step at which they are sampled, evaluated or saved; nets without batch
        norm cost nothing."""
        t = self.cfg.train
        if t.ema_bn != "recompute" or self._bn_step == self.step:
            return
        self._bn_step = self.step
        for n, e in self.ema.items():
            standing_stats(self.recipe, n, e, t.batch_size, t.seed, self.data)

    def save_grid(self, name: str):
        if not self.is_main:
            return
        imgs, nrow = self.recipe.visualize(self.sampling_nets(), self.fixed)
        save_grid(imgs, self.run_dir / "samples" / f"{name}.png", nrow)
        if self.ema:  # health watches the raw G (the EMA copy lags behind what training is doing)
            imgs, _ = self.recipe.visualize({n: getattr(self.recipe, n) for n in self.recipe.nets}, self.fixed)
        div = self.health.on_grid(self.step, imgs, self.data, self.fixed)
        if div:
            self.log({"step": self.step, **div})

    def checkpoint_tensors(self) -> tuple[dict, dict]:
        self.ema_bn_stats()
        tensors, optim = {}, {}
        for n, net in self.recipe.networks().items():
            for k, v in net.state_dict().items():
                tensors[f"net.{n}.{k}"] = v.detach().cpu().clone()
        for n, e in self.ema.items():
            for k, v in e.state_dict().items():
                tensors[f"ema.{n}.{k}"] = v.detach().cpu().clone()
        for n, opt in self.recipe.optim.items():
            optim[n] = ckpt.pack_optimizer(f"optim.{n}", opt, tensors)
        for k, v in self.fixed.items():
            tensors[f"fixed.{k}"] = v.detach().cpu().clone()
        tensors["rng.data"] = self.data_gen.get_state()
        rng = ckpt.rng_state(self.recipe.gen, tensors)
        state = {
            "step": self.step,
            "epoch": self.sampler.epoch_float,
            "data": self.sampler.state(),
            "elapsed": self.elapsed,
            "config": C.to_plain(self.cfg),
            "optim": optim,
            "rng": rng,
            "best": self.best,
            "ema_nets": list(self.ema),
            "sched": {n: s.state_dict() for n, s in self.schedulers.items()},
            "scaler": {n: s.state_dict() for n, s in self.recipe.scalers.items()},
            "param_counts": {n: sum(p.numel() for p in m.parameters()) for n, m in self.recipe.networks().items()},
            "data_info": {
                "name": self.data.name,
                "shape": list(self.data.shape),
                "classes": self.data.classes,
                "fingerprint": self.data.fingerprint(),
                **data_card(self.data),
            },
        }
        return tensors, state

    def save_checkpoint(self):
        if not self.is_main:
            return None
        tensors, state = self.checkpoint_tensors()
        path = ckpt.write(self.run_dir / "checkpoints", f"step-{self.step:07d}", tensors, state)
        if self.best and self.best.get("step") == self.step:  # periodic eval found its best FID here
            ckpt.set_best(path.parent, path.name)
        ckpt.prune(self.run_dir / "checkpoints", self.cfg.train.keep)
        self._good = None  # from now on the rollback target is the latest checkpoint on disk
        self.write_health()
        plot_losses(
            self.run_dir / "metrics.jsonl",
            self.run_dir / "loss.png",
            f"{self.cfg.recipe} ({self.cfg.preset}) on {self.data.tag()}",
        )
        return path

    def last_good(self) -> ckpt.Checkpoint | None:
        """What the NaN guard rolls back to: the initial state before the first save, else the latest checkpoint."""
        if self._good is not None:
            return self._good
        try:
            return ckpt.load(self.run_dir / "checkpoints") if self.run_dir is not None else None
        except CheckpointError:
            return None

    def write_health(self):
        if self.is_main and self.run_dir is not None:
            self.health.write(self.run_dir, f"{self.cfg.recipe} ({self.cfg.preset}) on {self.data.tag()}", self.step)

    # ------------------------------------------------------------------ the loop
    @torch.no_grad()
    def update_ema(self):
        """EMA of G, with the recipe's ramp-up of the decay (``Recipe.ema_decay``)."""
        decay = self.recipe.ema_decay(self.step, self.cfg.train.ema)
        for n, e in self.ema.items():
            src = getattr(self.recipe, n)
            for pe, p in zip(e.parameters(), src.parameters()):
                pe.lerp_(p.detach(), 1 - decay)
            for be, b in zip(e.buffers(), src.buffers()):
                be.copy_(b)

    def autocast(self):
        return self._autocast()

    def _should_stop(self, total, deadline, interrupted) -> bool:
        stop = (
            (total is not None and self.step >= total)
            or (deadline is not None and time.time() >= deadline)
            or interrupted
        )
        if self.distributed:  # every rank must leave the loop at the same step
            flag = torch.tensor([float(stop)], device=self.device if self.device.type == "cuda" else "cpu")
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
        return stop

    def fit(self) -> Path | None:
        try:
            return self._fit()
        except Exception as e:
            # a new run that fails before its first step completes leaves no half-made run directory behind (a
            # divergence keeps its run: health.md says what happened)
            if (
                self._new_dir
                and self.step == 0
                and not isinstance(e, TrainingDiverged)
                and self.run_dir is not None
                and self.run_dir.exists()
            ):
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise

    def _fit(self) -> Path | None:
        t = self.cfg.train
        total = self.total_steps()  # a run without any budget was refused in __init__
        resumed = self.step > 0
        if not resumed and not self.distributed:
            tensors, state = self.checkpoint_tensors()
            self._good = ckpt.Checkpoint(Path("(initial state)"), state, tensors)
        if self.is_main:
            self._write_start_files(resumed)
            if not resumed:
                self.save_grid("step-0000000")
        deadline = time.time() + t.minutes * 60 if t.minutes is not None else None
        interrupted = {"flag": False}

        def on_sigint(signum, frame):
            if interrupted["flag"]:
                raise KeyboardInterrupt
            interrupted["flag"] = True
            if self.is_main:
                print("\ninterrupted: saving a checkpoint before exiting (Ctrl-C again to abort)", file=sys.stderr)

        old_handler = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
        report_every = (
            max(1, round(t.report_every_epochs * self.sampler.steps_per_epoch)) if t.report_every_epochs else None
        )
        bar = self._progress(total, deadline)
        t_log, n_log, t0 = time.time(), 0, time.time()
        last_saved = self.step if resumed else None
        try:
            while not self._should_stop(total, deadline, interrupted["flag"]):
                idx = self.sampler.next()
                batch = self.data.batch(idx, self.device, self.data_gen)
                if t.channels_last:
                    batch = {k: to_channels_last(v) if torch.is_tensor(v) else v for k, v in batch.items()}
                self.recipe.step = self.step  # n_critic and other per-step choices
                with self.autocast():
                    self.recipe.train_step(batch)
                with warnings.catch_warnings():  # an optimizer that skipped this step (n_critic, fp16 overflow)
                    warnings.simplefilter("ignore", UserWarning)
                    for sch in self.schedulers.values():
                        sch.step()
                if self.ema:
                    self.update_ema()
                self.step += 1
                n_log += 1
                if self.step % t.log_every == 0 or self.step == total:
                    now = time.time()
                    row = {
                        "step": self.step,
                        "epoch": round(self.sampler.epoch_float, 4),
                        "time": round(self.elapsed + now - t0, 2),
                        "perf/img_per_s": round(n_log * t.batch_size * self.world / max(now - t_log, 1e-9), 1),
                        **self.mean_across_ranks(self.stats.flush()),
                    }
                    t_log, n_log = now, 0
                    bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
                    if bad:
                        self.log(row)
                        self.health.rollback(self, f"non-finite {', '.join(bad)}")  # or TrainingDiverged
                        last_saved = self.step
                        continue
                    self.log(row)
                    self.health.observe(row)
                    if bar is not None:
                        bar.update(self.step, row)
                    elif self.is_main:
                        print(
                            " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                            flush=True,
                        )
                if report_every and self.step % report_every == 0:
                    rep = self.recipe.epoch_report(self.data, self.step)
                    if rep:
                        self.log({"step": self.step, **rep})
                if self.step % t.sample_every == 0:
                    self.save_grid(f"step-{self.step:07d}")
                if (
                    self.evaluator is not None
                    and self.step % t.eval_every == 0
                    and self.evaluator.run(self)
                    and self.step % t.ckpt_every != 0
                ):  # a new best FID between regular saves: keep it
                    self.elapsed += time.time() - t0
                    t0 = time.time()
                    self.save_checkpoint()
                    last_saved = self.step
                if self.step % t.ckpt_every == 0 and not params_finite(self.recipe.networks().values()):
                    self.health.rollback(self, "non-finite weights")  # never checkpoint a diverged state
                    last_saved = self.step
                    continue
                if self.step % t.ckpt_every == 0:
                    self.elapsed += time.time() - t0
                    t0 = time.time()
                    self.save_checkpoint()
                    last_saved = self.step
        finally:
            self.write_health()
            if bar is not None:
                bar.close()
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        self.elapsed += time.time() - t0
        if self.is_main and last_saved != self.step:
            self.save_grid(f"step-{self.step:07d}")
            self.save_checkpoint()
        if self._tb:
            self._tb.close()
        if self.distributed:
            self._sync_buffers()
            dist.barrier()
        return self.run_dir

    def mean_across_ranks(self, stats: dict[str, float]) -> dict[str, float]:
        """The logged scalars are the mean over all ranks (each rank saw its own shard of the batch)."""
        if not self.distributed:
            return stats
        names: list = [None] * self.world
        dist.all_gather_object(names, sorted(stats))
        common = sorted(set.intersection(*map(set, names)))  # a name only some ranks reported stays local
        t = torch.tensor(
            [stats[k] for k in common], dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu"
        )
        dist.all_reduce(t)
        return {**stats, **dict(zip(common, (t / self.world).tolist()))}

    def _sync_buffers(self):
        """BN running statistics are per-replica between DDP forwards: end every replica with rank 0's."""
        for net in [*self.recipe.networks().values(), *self.ema.values()]:
            for b in net.buffers():
                dist.broadcast(b, src=0)

    def _progress(self, total, deadline):
        if not (self.progress and self.is_main):
            return None
        from .progress import Progress

        return Progress(total, deadline, start=self.step)


def _constant(step: int) -> float:
    return 1.0


def match_param_layout(opt: torch.optim.Optimizer) -> None:
    """Give per-parameter optimizer state the memory layout of its parameter (checkpoints store contiguous
    tensors; a channels-last parameter needs channels-last moments, or fused kernels pair the wrong elements)."""
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
