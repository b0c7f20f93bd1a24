"""train.ema_bn: the EMA copy's batch-norm statistics re-estimated from its own forward passes (train/ema.py)."""

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from gankit.train.ema import EMA_BN_BATCHES, batch_norms, recompute_bn_stats


def net_with_bn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8),
        nn.Dropout(0.5),
        nn.BatchNorm1d(8, momentum=0.3),
        nn.ReLU(),
        nn.Linear(8, 3),
        nn.BatchNorm1d(3),
        nn.Tanh(),
    ).eval()


def draw(net, calls):
    def forward(gen):
        calls.append(1)
        net(torch.randn(16, 4, generator=gen) * 3 + 1)
        return True

    return forward


def test_statistics_are_those_of_the_nets_own_activations():
    """After re-estimation every running mean / variance is the average over the batches of the batch statistics
    of that norm's input, with the batch norms normalising by batch statistics and dropout off (computed here
    directly through hooks on a replay of the same draws); modes and momenta are restored."""
    net = net_with_bn()
    calls = []
    assert recompute_bn_stats(net, draw(net, calls), 5, seed=3)
    assert len(calls) == 5 and not net.training and [m.momentum for m in batch_norms(net)] == [0.3, 0.1]

    replay = net_with_bn()  # the same weights: replay the draws in training mode without dropout
    replay.train()
    replay[1].eval()
    seen = {0: [], 1: []}
    for i, m in enumerate(batch_norms(replay)):
        m.register_forward_hook(lambda mod, inp, out, i=i: seen[i].append(inp[0]))
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _ in range(5):
            replay(torch.randn(16, 4, generator=gen) * 3 + 1)
    for i, m in enumerate(batch_norms(net)):
        mean = torch.stack([x.mean(0) for x in seen[i]]).mean(0)
        var = torch.stack([x.var(0, unbiased=True) for x in seen[i]]).mean(0)
        torch.testing.assert_close(m.running_mean, mean)
        torch.testing.assert_close(m.running_var, var)
    assert not torch.allclose(batch_norms(net)[0].running_mean, torch.zeros(8))  # not the initial statistics


def test_deterministic_and_leaves_the_global_rng_alone():
    a, b = net_with_bn(), net_with_bn()
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    recompute_bn_stats(a, draw(a, []), 3, seed=11)
    assert torch.equal(torch.random.get_rng_state(), before)
    recompute_bn_stats(b, draw(b, []), 3, seed=11)
    for (ka, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), ka


def test_a_net_without_batch_norm_is_untouched_and_never_run():
    net = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.InstanceNorm1d(4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    calls = []
    assert not recompute_bn_stats(net, draw(net, calls), 4, seed=0)
    assert calls == [] and all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_recipe_that_cannot_draw_the_inputs_keeps_the_statistics():
    net = net_with_bn()
    net.train()
    net(torch.randn(16, 4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert not recompute_bn_stats(net, lambda gen: False, 4, seed=0)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def tiny_dcgan(tmp_path, mode):
    from gankit import api

    return api.train(
        "dcgan",
        overrides=[
            "train.steps=3",
            "train.batch_size=8",
            "train.threads=1",
            "train.sample_every=100",
            "train.ckpt_every=100",
            "data.name=twemoji",
            "data.size=16",
            "data.limit=32",
            "model.g_base=16",
            "model.g_channels=[8,8]",
            "model.d_stem=8",
            "model.d_channels=[8,8]",
            "train.ema=0.9",
            f"train.ema_bn={mode}",
        ],
        out=tmp_path / mode,
    )


def test_the_option_changes_only_the_ema_copys_statistics(tmp_path):
    """recompute against copy on the same run: identical trained nets and EMA weights; only the EMA's batch-norm
    buffers differ (copy: the raw G's)."""
    runs = {m: tiny_dcgan(tmp_path, m) for m in ("recompute", "copy")}
    t = {m: load_file(str(next((r / "checkpoints").glob("step-*")) / "tensors.safetensors")) for m, r in runs.items()}
    assert t["recompute"].keys() == t["copy"].keys()
    stats = [k for k in t["copy"] if k.startswith("ema.G.") and k.endswith(("running_mean", "running_var"))]
    assert stats
    for k in t["copy"]:
        if k in stats:
            assert torch.equal(t["copy"][k], t["copy"]["net." + k[4:]]), k
            assert not torch.equal(t["recompute"][k], t["copy"][k]), k
        elif k.startswith("ema.G.") and k.endswith("num_batches_tracked"):  # recompute: the batches it averaged
            assert int(t["recompute"][k]) == EMA_BN_BATCHES and torch.equal(t["copy"][k], t["copy"]["net." + k[4:]])
        elif k.startswith(("net.", "ema.")):
            assert torch.equal(t["recompute"][k], t["copy"][k]), k


def test_bad_mode_is_a_one_line_config_error():
    from gankit.errors import ConfigError
    from gankit.models import resolve_config

    with pytest.raises(ConfigError, match="train.ema_bn: 'mean' is not one of recompute, copy"):
        resolve_config("dcgan", overrides=["train.ema_bn=mean"])
