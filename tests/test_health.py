"""Training health: collapse / D-dominating / divergence signals, the NaN guard's rollback, health.md."""

import json

import pytest
import torch
from conftest import needs_fmnist

from gankit.models import resolve_config
from gankit.train.health import HealthMonitor, mean_pairwise_distance
from gankit.train.trainer import Trainer, TrainingDiverged

TINY = [
    "data.limit=256",
    "train.batch_size=32",
    "train.lr=2e-4",
    "model.g_hidden=[32]",
    "model.d_hidden=[32]",
    "train.log_every=10",
]


def trainer(tmp_path, *overrides):
    cfg = resolve_config("mlp-gan", "default", overrides=TINY + list(overrides))
    return Trainer(cfg, out=tmp_path, progress=False)


def rows(run):
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_diversity_signal_and_findings_unit():
    h = HealthMonitor()
    real = torch.rand(64, 1, 28, 28) * 2 - 1

    class Data:
        def __len__(self):
            return 64

        def batch(self, idx, device, gen):
            return {"image": real[idx]}

    assert h.on_grid(0, real[:1].repeat(64, 1, 1, 1), Data(), {"z": 0}) == {"health/diversity": 0.0}
    h.on_grid(10, real[:1].repeat(64, 1, 1, 1), Data(), {"z": 0})
    assert h.findings()["collapse suspected"][0]
    h2 = HealthMonitor()
    h2.on_grid(10, real.flip(0), Data(), {"z": 0})
    assert h2.diversity[-1][1] == pytest.approx(1.0, abs=0.05) and not h2.findings()["collapse suspected"][0]
    assert mean_pairwise_distance(real[:1].repeat(4, 1, 1, 1)) == 0
    for acc, flag in ((0.99, True), (0.7, False)):
        h3 = HealthMonitor()
        for s in range(10):
            h3.observe({"step": s, "D/acc_real": acc, "D/acc_fake": acc, "health/grad_G": 0.01})
        assert h3.findings()["D dominating"][0] is flag


@needs_fmnist
def test_constant_generator_is_flagged_as_collapse(tmp_path):
    tr = trainer(tmp_path, "train.steps=40", "train.sample_every=20")
    last = [m for m in tr.recipe.G.modules() if isinstance(m, torch.nn.Linear)][-1]
    orig = tr.recipe.train_step

    def step(batch):  # G forced to a constant: its output layer ignores z
        orig(batch)
        with torch.no_grad():
            last.weight.zero_()

    with torch.no_grad():
        last.weight.zero_()
    tr.recipe.train_step = step
    run = tr.fit()
    text = (run / "health.md").read_text()
    assert "**collapse suspected: YES**" in text and "step 40: 0.000" in text
    assert "**divergence: no**" in text
    logged = [r for r in rows(run) if "health/diversity" in r]
    assert logged and logged[-1]["health/diversity"] < 1e-3 and logged[-1]["step"] == 40
    assert any("health/grad_G" in r and "health/grad_D" in r for r in rows(run))


@needs_fmnist
def test_frozen_generator_lets_d_dominate(tmp_path):
    run = trainer(
        tmp_path, "train.steps=150", "train.lr=0", "train.lr_d=2e-3", "model.dropout=0", "model.real_label=1.0"
    ).fit()
    text = (run / "health.md").read_text()
    assert "**D dominating: YES**" in text, text


@needs_fmnist
def test_nan_rolls_back_with_lower_lr_and_training_goes_on(tmp_path):
    tr = trainer(tmp_path, "train.steps=60", "train.ckpt_every=20", "train.sample_every=20")
    orig, done = tr.recipe.train_step, []

    def step(batch):
        orig(batch)
        if tr.recipe.step == 33 and not done:  # one injected NaN into G's weights
            done.append(1)
            with torch.no_grad():
                for p in tr.recipe.G.parameters():
                    p.fill_(float("nan"))

    tr.recipe.train_step = step
    run = tr.fit()
    assert tr.step == 60 and len(tr.health.rollbacks) == 1
    ev = tr.health.rollbacks[0]
    assert ev["at_step"] == 40 and ev["back_to"] == 20 and ev["lr"]["G"] == pytest.approx(1e-4)
    assert all(torch.isfinite(p).all() for p in tr.recipe.G.parameters())
    assert tr.recipe.optim["D"].param_groups[0]["lr"] == pytest.approx(1e-4)
    final = [r for r in rows(run) if "loss/G" in r][-1]
    assert final["step"] == 60 and final["loss/G"] == final["loss/G"]  # finite
    text = (run / "health.md").read_text()
    assert "**divergence: YES**" in text and "rolled back to step 20" in text
    from gankit.train import checkpoint as ckpt

    c = ckpt.load(run)
    assert c.step == 60 and c.state["optim"]["G"]["param_groups"][0]["lr"] == pytest.approx(1e-4)


@needs_fmnist
def test_persistent_nan_stops_after_k_rollbacks_with_a_clear_message(tmp_path):
    tr = trainer(tmp_path, "train.steps=200", "train.max_rollbacks=2")
    orig = tr.recipe.train_step

    def step(batch):  # every step poisons D: no learning rate can save this run
        orig(batch)
        with torch.no_grad():
            next(tr.recipe.D.parameters()).fill_(float("inf"))

    tr.recipe.train_step = step
    with pytest.raises(TrainingDiverged, match=r"after 2 rollback\(s\)"):
        tr.fit()
    assert len(tr.health.rollbacks) == 2 and [e["back_to"] for e in tr.health.rollbacks] == [0, 0]
    assert [e["lr"]["G"] for e in tr.health.rollbacks] == pytest.approx([1e-4, 5e-5])
    text = (tr.run_dir / "health.md").read_text()
    assert "STOPPED" in text and "**divergence: YES**" in text


def test_per_class_collapse_unit():
    """A bank varied across classes but constant within each: the whole-bank ratio looks healthy, the per-class
    one flags every class; real-like samples flag none."""
    g = torch.Generator().manual_seed(0)
    real = torch.rand(200, 1, 16, 16, generator=g) * 2 - 1
    labels = torch.arange(200) % 4

    class Data:
        def __len__(self):
            return 200

        def batch(self, idx, device, gen):
            return {"image": real[idx]}

    Data.labels = labels
    bank = torch.arange(4).repeat_interleave(8)
    h = HealthMonitor()
    out = h.on_grid(10, real[bank], Data(), {"z": 0, "label": bank})  # class c -> always the same image
    assert out["health/diversity_class_min"] == 0.0 and out["health/diversity"] > 0.5
    f = h.findings()
    assert not f["collapse suspected"][0] and f["collapse within a class"][0]
    assert "classes [0, 1, 2, 3] collapsed" in f["collapse within a class"][1]
    h2 = HealthMonitor()
    h2.on_grid(10, real[100:132], Data(), {"z": 0, "label": labels[100:132]})
    assert h2.by_class[-1][1][0] == pytest.approx(1.0, abs=0.15) and not h2.findings()["collapse within a class"][0]


@needs_fmnist
def test_conditional_generator_ignoring_z_is_flagged(tmp_path):
    """cgan whose G ignores z (the z columns of its first layer held at zero): health.md flags collapse within
    classes."""
    cfg = resolve_config(
        "cgan",
        "default",
        overrides=[
            "data.limit=256",
            "train.batch_size=32",
            "train.steps=40",
            "train.sample_every=20",
            "train.log_every=10",
            "train.grid=4",
            "model.g_cond=input",
            "model.g_base=32",
            "model.g_channels=[16,8]",
            "model.d_channels=[16,32]",
            "model.embed_dim=8",
        ],
    )
    tr = Trainer(cfg, out=tmp_path, progress=False)
    first = tr.recipe.G.net[0]
    zdim = tr.recipe.opts.latent_dim
    orig = tr.recipe.train_step

    def step(batch):
        orig(batch)
        with torch.no_grad():
            first.weight[:, :zdim].zero_()

    with torch.no_grad():
        first.weight[:, :zdim].zero_()
    tr.recipe.train_step = step
    run = tr.fit()
    text = (run / "health.md").read_text()
    assert "**collapse within a class: YES**" in text, text
    logged = [r for r in rows(run) if "health/diversity_class_min" in r]
    assert logged and logged[-1]["health/diversity_class_min"] < 1e-3


def test_within_bin_collapse_counts_distinct_images():
    """An age set (a balanced index space over its images): a bank whose 8 latents per bin draw 3 faces (slightly
    perturbed) keeps a healthy distance ratio but is flagged by its distinct count; 8 different faces per bin are
    not."""
    from gankit.data.ages import AgeSet, balanced_order

    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (60, 3, 16, 16), generator=g, dtype=torch.uint8)
    labels = torch.tensor([0] * 10 + [1] * 40 + [2] * 10)
    data = AgeSet(imgs, labels, torch.full((60,), -1), ["child", "adult", "older"], "synthetic", "test")
    data.order = balanced_order(labels, 3)
    real = data.batch(torch.arange(len(data)))
    bank_labels = torch.arange(3).repeat_interleave(8)
    first = {c: torch.nonzero(real["label"] == c).flatten() for c in range(3)}
    collapsed = torch.stack(
        [
            real["image"][first[c][i % 3]] + 0.02 * torch.randn(3, 16, 16, generator=g)
            for c in range(3)
            for i in range(8)
        ]
    )
    h = HealthMonitor()
    out = h.on_grid(10, collapsed, data, {"z": 0, "label": bank_labels})
    assert out["health/diversity_class_min"] > 0.25 and out["health/distinct_class_min"] == 3 / 8
    flag, ev = h.findings()["collapse within a class"]
    assert flag and "classes [0, 1, 2] draw few distinct images" in ev and "0: 3/8" in ev
    diverse = torch.stack([data.batch(first[c][i : i + 1])["image"][0] for c in range(3) for i in range(8)])
    h2 = HealthMonitor()
    assert h2.on_grid(10, diverse, data, {"z": 0, "label": bank_labels})["health/distinct_class_min"] == 1.0
    assert not h2.findings()["collapse within a class"][0]
