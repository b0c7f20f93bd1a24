"""The one checkpoint -> recipe -> weights loader (train/loader.py) behind api.load, translate, upscale, init_from."""

from __future__ import annotations

import pytest
import torch

from gankit import api
from gankit.cli import main
from gankit.errors import CheckpointError
from gankit.train import loader

TINY = [
    "model.g_hidden=[16]",
    "model.d_hidden=[16]",
    "train.batch_size=16",
    "train.steps=3",
    "train.log_every=3",
    "train.sample_every=1000",
    "train.device=cpu",
    "train.threads=1",
    "train.ema=0.5",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("loader")
    import numpy as np
    from conftest import write_idx

    rng = np.random.default_rng(0)
    (d / "mnist").mkdir()
    write_idx(d / "mnist" / "train-images-idx3-ubyte", rng.integers(0, 256, (32, 28, 28), dtype=np.uint8))
    write_idx(d / "mnist" / "train-labels-idx1-ubyte", rng.integers(0, 10, (32,), dtype=np.uint8))
    return api.train("mlp-gan", overrides=[f"data.name=mnist:{d / 'mnist'}", *TINY], out=d / "runs")


def test_load_recipe_rebuilds_every_net_and_the_ema_copy(run):
    c, cls = loader.read(run)
    assert cls.name == "mlp-gan" and c.step == 3
    got = loader.load_recipe(c, "cpu", ema=True)
    assert got.ema == ("G",) and got.nets["G"] is not got.recipe.G
    for name in ("G", "D"):
        want = c.net(f"net.{name}")
        assert all(torch.equal(v, got.recipe.networks()[name].state_dict()[k]) for k, v in want.items())
    assert all(torch.equal(v, got.nets["G"].state_dict()[k]) for k, v in c.net("ema.G").items())
    assert not any(net.training for net in got.nets.values())
    raw = loader.load_recipe(run, ema=False)
    assert raw.ema == () and raw.nets["G"] is raw.recipe.G
    # api.load is this loader plus the Generator wrapper: the same EMA weights
    gen = api.load(run)
    assert gen.ema and torch.equal(gen.sample(4, seed=1), got.recipe.sample(got.nets["G"], gen.latents(4, seed=1)))


def test_start_weights_hands_over_the_nets_of_the_same_family_only(run):
    w = loader.start_weights(run, "mlp-gan")
    assert set(w) == {"G", "D", "ema.G"} and w["G"]  # the EMA copy too (a stage 2 may start from it)
    assert any(not torch.equal(w["G"][k], w["ema.G"][k]) for k in w["G"] if w["G"][k].is_floating_point())
    with pytest.raises(CheckpointError, match="a mlp-gan checkpoint, not srgan"):
        loader.start_weights(run, "srgan")


def test_image_commands_refuse_a_noise_generator_in_one_line(run, tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(b"")
    for args in (
        ["upscale", str(run), str(tmp_path / "x.png"), "--out", str(tmp_path / "o")],
        ["translate", str(run), str(tmp_path / "x.png"), "--out", str(tmp_path / "o")],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "mlp-gan checkpoint" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
