import pytest
import torch

from gankit.models import recipe_class, resolve_config


def make(recipe, preset="tutorial", shape=None, overrides=()):
    cfg = resolve_config(recipe, preset, overrides=list(overrides))
    shape = shape or ((3, 32, 32) if recipe == "dcgan" else (1, 28, 28))
    r = recipe_class(recipe)(cfg, shape, 10)
    r.gen = torch.Generator().manual_seed(0)
    return r


def count(m):
    return sum(p.numel() for p in m.parameters())


def test_dcgan_tutorial_matches_seed_summaries():
    r = make("dcgan")
    assert count(r.D) == 522_497 and count(r.G) == 1_466_115
    assert r.G(torch.randn(2, 100)).shape == (2, 3, 32, 32)


def test_mlp_and_lsgan_tutorial_nets():
    m = make("mlp-gan")
    dims = [l.out_features for l in m.G.modules() if isinstance(l, torch.nn.Linear)]
    assert dims == [256, 512, 1024, 784]
    assert [l.out_features for l in m.D.modules() if isinstance(l, torch.nn.Linear)] == [1024, 512, 256, 1]
    assert (
        sum(isinstance(l, torch.nn.Dropout) and l.p == 0.3 for l in m.D.modules()) == 2
    )  # seed 003: after 1024 and 512
    ls = make("lsgan")
    assert ls.G(torch.randn(2, 100)).shape == (2, 1, 28, 28)
    assert isinstance(list(ls.D.modules())[-1], torch.nn.Linear)  # linear output, least squares
    assert sum(isinstance(l, torch.nn.BatchNorm2d) for l in ls.D.modules()) == 2


def snapshot(net):
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def changed(before, net):
    return [k for k, v in net.named_parameters() if not torch.equal(before[k], v)]


@pytest.mark.parametrize("recipe", ["mlp-gan", "dcgan", "lsgan"])
@pytest.mark.parametrize("preset", ["tutorial", "default"])
def test_each_step_updates_only_its_own_network(recipe, preset):
    """The seed code under Keras 3 silently freezes D; here D's step must move D (and not G), G's step G (not D)."""
    r = make(recipe, preset)
    events = []

    def wrap(name):
        opt = r.optim[name]
        orig = opt.step

        def step(*a, **k):
            g0, d0 = snapshot(r.G), snapshot(r.D)
            out = orig(*a, **k)
            events.append((name, changed(g0, r.G), changed(d0, r.D)))
            return out

        opt.step = step

    wrap("G"), wrap("D")
    n = 8
    real = torch.rand(n, *r.shape) * 2 - 1
    r.train_step({"image": real})
    d_events = [e for e in events if e[0] == "D"]
    g_events = [e for e in events if e[0] == "G"]
    split = getattr(r.opts, "d_split_steps", False)
    assert len(d_events) == (2 if split else 1) and len(g_events) == 1
    for _, g_changed, d_changed in d_events:
        assert not g_changed and len(d_changed) == len(list(r.D.parameters()))
    _, g_changed, d_changed = g_events[0]
    # seed 002 (lsgan tutorial): D's BN gamma/beta stay trainable in the combined model, as under Keras 2
    bn_train = getattr(r.opts, "d_bn_train_in_g", False)
    bn_names = sorted(
        k
        for k, _ in r.D.named_parameters()
        if isinstance(r.D.get_submodule(k.rsplit(".", 1)[0]), torch.nn.modules.batchnorm._BatchNorm)
    )
    assert sorted(d_changed) == (bn_names if bn_train else [])
    assert bn_train == (recipe == "lsgan" and preset == "tutorial") and (not bn_train or len(bn_names) == 4)
    assert len(g_changed) == len(list(r.G.parameters()))
    assert all(p.requires_grad for p in r.D.parameters())  # frozen() restored D


def test_least_squares_targets():
    from gankit import losses

    real, fake = torch.ones(4, 1), torch.zeros(4, 1)
    assert losses.d_real("ls", real) == 0 and losses.d_fake("ls", fake) == 0
    assert losses.g_loss("ls", fake) == pytest.approx(1.0)
    # one-sided smoothing: the optimum of BCE with target 0.9 is at sigmoid(logit) = 0.9
    logit = torch.tensor([[2.1972246]], requires_grad=True)
    losses.d_real("bce", logit, 0.9).backward()
    assert abs(logit.grad.item()) < 1e-5
