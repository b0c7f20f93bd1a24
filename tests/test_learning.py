"""A short CPU training of mlp-gan on Fashion-MNIST must beat the untrained generator on measures that could fail:
the confidence and class spread of a Fashion-MNIST classifier on the samples (an Inception-Score analogue), and
the distance from each sample to its nearest real image."""

import pytest
import torch
import torch.nn.functional as F
from conftest import needs_fmnist
from torch import nn

from gankit import api
from gankit import config as C
from gankit.data import load
from gankit.models import resolve_config
from gankit.train.trainer import Trainer


def train_classifier(data, n=12000, steps=300):
    torch.manual_seed(0)
    clf = nn.Sequential(
        nn.Conv2d(1, 16, 3, 2, 1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )
    opt = torch.optim.Adam(clf.parameters(), 2e-3)
    x, y = data.batch(torch.arange(n))["image"], data.labels[:n]
    for _ in range(steps):
        idx = torch.randint(0, n, (128,))
        loss = F.cross_entropy(clf(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return clf.eval()


def classifier_score(clf, images):
    with torch.no_grad():
        p = F.softmax(clf(images), 1)
    marginal = p.mean(0, keepdim=True)
    return (p * (p.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1).mean().exp().item()


def nearest_real(images, real):
    return torch.cdist(images.flatten(1), real.flatten(1)).min(1).values.mean().item()


@needs_fmnist
@pytest.mark.slow
def test_mlp_gan_learns_fashion_mnist(tmp_path):
    cfg = resolve_config(
        "mlp-gan",
        "default",
        overrides=[
            "train.steps=500",
            "train.log_every=100",
            "train.ckpt_every=500",
            "train.sample_every=500",
            "train.threads=1",
        ],
    )
    data = load(cfg.data)
    test = load(C.DataConfig(name="fashion-mnist", split="test"))
    trainer = Trainer(cfg, out=tmp_path, progress=False, data=data)
    untrained = api.Generator(trainer.recipe, trainer.recipe.G, None, False).sample(500, seed=1)
    run = trainer.fit()
    trained = api.load(run).sample(500, seed=1)

    clf = train_classifier(data)
    real = test.batch(torch.arange(2000))["image"]
    acc = (clf(real).argmax(1) == test.labels[:2000]).float().mean().item()
    assert acc > 0.75  # the judge itself is competent
    s_real, s_before, s_after = (classifier_score(clf, x) for x in (real[:500], untrained, trained))
    d_before, d_after = nearest_real(untrained, real), nearest_real(trained, real)
    print(
        f"classifier score real={s_real:.2f} untrained={s_before:.2f} trained={s_after:.2f}; "
        f"nearest-real L2 untrained={d_before:.2f} trained={d_after:.2f}"
    )
    assert s_after > s_before + 1.0 and s_after > 2.0
    assert d_after < 0.8 * d_before
