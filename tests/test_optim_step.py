"""The one optimizer step (Recipe.update) and the LR schedulers: fp16 loss scaling, rollback cuts that hold."""

import json
import math

import pytest
import torch
from conftest import needs_fmnist

from gankit.models import resolve_config
from gankit.models.pix2pix import lr_factor
from gankit.train import checkpoint as ckpt
from gankit.train.trainer import Trainer

torch.set_num_threads(1)

TINY_MLP = ["data.limit=128", "train.batch_size=16", "model.g_hidden=[16]", "model.d_hidden=[16]", "train.lr=2e-4"]


# ------------------------------------------------------------------------------- fp16 and the GradScaler


@needs_fmnist
def test_scaler_skips_an_overflowing_step_and_lowers_the_scale(tmp_path):
    cfg = resolve_config("mlp-gan", "default", overrides=TINY_MLP + ["train.precision=fp16", "train.steps=1"])
    tr = Trainer(cfg, out=tmp_path, progress=False)
    r = tr.recipe
    assert set(r.scalers) == {"G", "D"}
    scale0 = r.scalers["D"].get_scale()
    before = [p.detach().clone() for p in r.D.parameters()]
    x = torch.randn(4, *r.shape)
    with tr.autocast():
        out = r.D(x)
    r.update("D", out.float().mean() * float("inf"))  # every gradient is inf: the step must be skipped
    assert all(torch.equal(a, b) for a, b in zip(before, r.D.parameters()))
    assert r.scalers["D"].get_scale() == scale0 / 2
    with tr.autocast():
        out = r.D(x)
    r.update("D", out.float().mean())  # a finite loss: the step is taken, with unscaled gradients
    assert not all(torch.equal(a, b) for a, b in zip(before, r.D.parameters()))
    assert max(p.grad.abs().max() for p in r.D.parameters()) < 100  # unscaled: a scale of 32768 would show here


@needs_fmnist
def test_overflow_reads_as_calibration_above_scale_one_and_as_non_finite_below(tmp_path):
    cfg = resolve_config("mlp-gan", "default", overrides=TINY_MLP + ["train.precision=fp16", "train.steps=1"])
    r = Trainer(cfg, out=tmp_path, progress=False).recipe
    seen = {}
    r._report = lambda k, v: seen.__setitem__(k, float(v))
    x = torch.randn(4, *r.shape)
    for scale, skipped in ((2.0**16, 1.0), (1.0, 0.0)):
        seen.clear()
        r.scalers["D"] = torch.amp.GradScaler("cpu", init_scale=scale)
        r.update("D", r.D(x).float().mean() * float("inf"))
        assert seen["health/fp16_skipped_D"] == skipped
        if skipped:
            assert "health/grad_D" not in seen  # the scaler finding its range
        else:
            assert not math.isfinite(seen["health/grad_D"])  # reported as it is: the trainer rolls back on it


@needs_fmnist
def test_fp16_run_trains_checkpoints_its_scalers_and_resumes(tmp_path):
    over = TINY_MLP + ["train.precision=fp16", "train.log_every=1", "train.ckpt_every=4"]
    cfg = resolve_config("mlp-gan", "default", overrides=over + ["train.steps=8"])
    run = Trainer(cfg, out=tmp_path, progress=False).fit()
    rows = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss/G"] for r in rows if "loss/G" in r]
    assert len(losses) == 8 and all(v == v and abs(v) < 1e3 for v in losses)
    c = ckpt.load(run)
    assert set(c.state["scaler"]) == {"G", "D"} and c.state["scaler"]["G"]["scale"] > 0
    cfg2 = resolve_config("mlp-gan", "default", overrides=over + ["train.steps=12"])
    tr = Trainer(cfg2, resume=run, progress=False)
    assert tr.recipe.scalers["G"].get_scale() == c.state["scaler"]["G"]["scale"]
    tr.fit()
    assert tr.step == 12


@needs_fmnist
def test_fp16_overflow_is_a_skipped_step_not_divergence(tmp_path):
    """A GradScaler whose scale is too high overflows: the step is skipped and the scale lowered. That must not read
    as an infinite gradient norm (which the trainer rolls back on, and after three rollbacks stops the run)."""
    over = TINY_MLP + ["train.precision=fp16", "train.log_every=1", "train.steps=24", "model.mode_seeking=0"]
    tr = Trainer(resolve_config("mlp-gan", "default", overrides=over), out=tmp_path, progress=False)
    for s in tr.recipe.scalers.values():
        s._init_scale = 2.0**28  # past fp16's range (2^16): the first steps' scaled gradients overflow
    run = tr.fit()
    rows = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss/G" in r]
    assert tr.step == 24 and not tr.health.rollbacks
    assert rows[0]["health/fp16_skipped_G"] == 1.0 and "health/grad_G" not in rows[0]
    assert rows[-1]["health/fp16_skipped_G"] == 0.0 and rows[-1]["health/grad_G"] > 0  # the scale came down
    assert tr.recipe.scalers["G"].get_scale() < 2.0**28


# ------------------------------------------------------------------------------- rollbacks hold


def poison_at(tr, step, net="G"):
    orig, done = tr.recipe.train_step, []

    def train_step(batch):
        orig(batch)
        if tr.recipe.step == step and not done:
            done.append(1)
            with torch.no_grad():
                for p in getattr(tr.recipe, net).parameters():
                    p.fill_(float("nan"))

    tr.recipe.train_step = train_step


ROLLBACK = {  # recipe: (overrides, schedule multiplier at a step given the budget)
    "pix2pix": (
        [
            "model.g_ngf=4",
            "model.g_downs=4",
            "model.g_dropout_blocks=1",
            "model.d_ndf=4",
            "data.size=16",
            "data.limit=24",
            "train.batch_size=2",
            "model.lr_decay_start=0.5",
        ],
        lambda s, total: lr_factor(s, total, 0.5),
    ),
    "cyclegan": (
        [
            "model.g_ngf=4",
            "model.g_blocks=1",
            "model.d_ndf=4",
            "model.d_layers=2",
            "data.size=16",
            "data.limit=24",
            "train.batch_size=1",
        ],
        lambda s, total: lr_factor(s, total, 0.5),
    ),
    "srgan": (
        [
            "data.limit=24",
            "data.size=64",
            "model.crop=32",
            "model.g_features=8",
            "model.g_blocks=1",
            "model.d_features=8",
            "model.d_dense=16",
            "train.batch_size=2",
            "model.lr_drop_at=0.5",
        ],
        lambda s, total: 0.1 if s >= 0.5 * total else 1.0,
    ),
}


@pytest.mark.parametrize("recipe", list(ROLLBACK))
def test_rollback_lr_cut_still_holds_ten_steps_later(recipe, tmp_path):
    over, schedule = ROLLBACK[recipe]
    total = 30
    cfg = resolve_config(
        recipe,
        "default",
        overrides=over
        + [
            f"train.steps={total}",
            "train.log_every=1",
            "train.ckpt_every=10",
            "train.sample_every=1000",
            "train.report_every_epochs=null",
            "train.device=cpu",
        ],
    )
    tr = Trainer(cfg, out=tmp_path, progress=False)
    base = {n: s.base_lrs[0] for n, s in tr.schedulers.items()}
    poison_at(tr, 13)  # G's weights NaN after step 14 -> NaN losses at step 15 -> back to step 10, LR halved
    tr.fit()
    assert tr.step == total and len(tr.health.rollbacks) == 1 and tr.health.rollbacks[0]["back_to"] == 10
    for n, opt in tr.recipe.optim.items():  # 15+ steps after the cut, through the schedule's own changes
        want = 0.5 * base[n] * schedule(total, total)  # the scheduler has stepped past the last step
        assert opt.param_groups[0]["lr"] == pytest.approx(want, rel=1e-9), n
        assert tr.schedulers[n].base_lrs[0] == pytest.approx(0.5 * base[n])
    c = ckpt.load(tr.run_dir)  # and the checkpoint carries the cut
    assert all(c.state["sched"][n]["base_lrs"][0] == pytest.approx(0.5 * base[n]) for n in base)
