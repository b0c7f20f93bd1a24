"""Range checks for every numeric option, run when a config is resolved (before a run directory exists).

Types are checked by ``config.coerce``; this module checks values: a batch of 0, a negative step budget, a NaN
learning rate or an EMA decay of 1 stop here with one line naming the key. Model options are checked by name, so
a family's ``Options`` gets the rules of the names it uses (``latent_dim``, ``*_channels``, ``*dropout`` ...);
what only one family knows stays in its ``validate``.
"""

from __future__ import annotations

import dataclasses
import math

from .errors import ConfigError

# (low, high, low_inclusive, high_inclusive); None = unbounded
AT_LEAST_1 = (1, None, True, False)
AT_LEAST_0 = (0, None, True, False)
POSITIVE = (0, None, False, False)
UNIT_OPEN = (0, 1, True, False)  # [0, 1)
UNIT = (0, 1, True, True)  # [0, 1]
UNIT_POS = (0, 1, False, True)  # (0, 1]

TRAIN = {
    "batch_size": AT_LEAST_1,
    "steps": AT_LEAST_1,
    "epochs": POSITIVE,
    "minutes": POSITIVE,
    "seed": AT_LEAST_0,
    "threads": AT_LEAST_1,
    "lr": AT_LEAST_0,
    "lr_d": AT_LEAST_0,  # lr 0 freezes a net (tests use it)
    "beta1": UNIT_OPEN,
    "beta2": UNIT_OPEN,
    "beta1_d": UNIT_OPEN,
    "eps": POSITIVE,
    "momentum": AT_LEAST_0,
    "ema": UNIT_OPEN,
    "log_every": AT_LEAST_1,
    "sample_every": AT_LEAST_1,
    "ckpt_every": AT_LEAST_1,
    "keep": AT_LEAST_1,
    "grid": AT_LEAST_1,
    "report_every_epochs": POSITIVE,
    "max_rollbacks": AT_LEAST_0,
    "rollback_lr_factor": UNIT_POS,
    "eval_every": AT_LEAST_1,
    "eval_n": (2, None, True, False),
}
DATA = {"size": AT_LEAST_1, "channels": (1, 3, True, True), "limit": AT_LEAST_1, "load_size": AT_LEAST_1}
MODEL = {
    "latent_dim": AT_LEAST_1,
    "g_base": AT_LEAST_1,
    "d_stem": AT_LEAST_0,
    "d_kernel": AT_LEAST_1,
    "g_out_kernel": AT_LEAST_1,
    "embed_dim": AT_LEAST_0,
    "n_critic": AT_LEAST_1,
    "g_batch_mult": AT_LEAST_1,
    "minibatch_disc": AT_LEAST_0,
    "minibatch_dim": AT_LEAST_1,
    "slope": AT_LEAST_0,
    "bn_momentum": UNIT,
    "bn_eps": POSITIVE,
    "real_label": UNIT,
    "fake_label": UNIT,
    "gp": AT_LEAST_0,
    "r1": AT_LEAST_0,
    "feature_matching": AT_LEAST_0,
    "historical_avg": AT_LEAST_0,
    "mode_seeking": AT_LEAST_0,
    "dropout": UNIT_OPEN,
    "d_dropout": UNIT_OPEN,
    "g_dropout": UNIT_OPEN,
    "g_ngf": AT_LEAST_1,
    "d_ndf": AT_LEAST_1,
    "d_layers": AT_LEAST_1,
    "g_downs": AT_LEAST_1,
    "g_blocks": AT_LEAST_0,
    "g_dropout_blocks": AT_LEAST_0,
    "g_features": AT_LEAST_1,
    "d_features": AT_LEAST_1,
    "d_dense": AT_LEAST_1,
    "up_features": AT_LEAST_1,
    "scale": AT_LEAST_1,
    "crop": AT_LEAST_1,
    "pool_size": AT_LEAST_0,
    "eval_images": AT_LEAST_1,
    "lambda_l1": AT_LEAST_0,
    "lambda_cycle": AT_LEAST_0,
    "lambda_identity": AT_LEAST_0,
    "adv_weight": AT_LEAST_0,
    "d_loss_scale": POSITIVE,
    "vgg_scale": POSITIVE,
    "lr_decay_start": UNIT,
    "lr_drop_at": POSITIVE,
}
LISTS = {"g_channels", "d_channels", "g_hidden", "d_hidden"}  # layer widths: every entry >= 1


def _describe(rng) -> str:
    lo, hi, lo_in, hi_in = rng
    if hi is None:
        return f"{'>=' if lo_in else '>'} {lo}"
    return f"in {'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"


def _check(key: str, value, rng) -> None:
    if value is None or isinstance(value, bool):
        return
    lo, hi, lo_in, hi_in = rng
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value >= lo if lo_in else value > lo)
    if hi is not None:
        ok = ok and (value <= hi if hi_in else value < hi)
    if not ok:
        raise ConfigError(f"{key} must be {_describe(rng)}, got {value}")


def check_ranges(cfg) -> None:
    """Raise ConfigError for the first option of ``cfg`` outside its range."""
    t, d = cfg.train, cfg.data
    for name, rng in TRAIN.items():
        _check(f"train.{name}", getattr(t, name, None), rng)
    if getattr(t, "nesterov", False) and t.optimizer == "sgd" and t.momentum <= 0:
        raise ConfigError("train.nesterov needs train.momentum > 0")
    for name, rng in DATA.items():
        _check(f"data.{name}", getattr(d, name, None), rng)
    if d.channels not in (None, 1, 3):
        raise ConfigError(f"data.channels must be 1 or 3, got {d.channels}")
    if d.load_size is not None and d.size is not None and d.load_size < d.size:
        raise ConfigError(f"data.load_size ({d.load_size}) must be >= data.size ({d.size}): it is cropped to size")
    m = cfg.model
    if m is None or not dataclasses.is_dataclass(m):
        return
    for f in dataclasses.fields(m):
        value = getattr(m, f.name)
        key = f"model.{f.name}"
        if f.name in MODEL:
            _check(key, value, MODEL[f.name])
        elif f.name in LISTS or (
            isinstance(value, list)
            and value
            and all(isinstance(v, int) for v in value)
            and f.name.endswith(("_channels", "_hidden"))
        ):
            if not value:
                raise ConfigError(f"{key} must list at least one layer width")
            for i, v in enumerate(value):
                _check(f"{key}[{i}]", v, AT_LEAST_1)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value}")
