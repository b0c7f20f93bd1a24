"""`dcgan -p book-bn`: the book's 64 px nets with batch norm after each of G's convolutions, nothing else changed."""

import pytest
import torch

from gankit import config as C
from gankit.errors import ConfigError
from gankit.models import recipe_class, resolve_config
from gankit.models.dcgan import DCGAN


def build(preset):
    cfg = resolve_config("dcgan", preset)
    torch.manual_seed(0)
    return cfg, recipe_class("dcgan")(cfg, (3, 64, 64), 0)


def test_book_bn_is_book_plus_batch_norm_after_each_g_conv():
    _, book = build("book")
    _, bn = build("book-bn")
    seq = list(bn.G.net)
    convs = [i for i, m in enumerate(seq) if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 3 and all(isinstance(seq[i + 1], torch.nn.BatchNorm2d) for i in convs)
    assert [seq[i + 1].num_features for i in convs] == [128, 64, 3]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in book.G.modules())
    assert sum(p.numel() for p in bn.G.parameters()) == 34_839_427 + 2 * (128 + 64 + 3)
    assert sum(p.numel() for p in bn.D.parameters()) == sum(p.numel() for p in book.D.parameters()) == 20_361_473
    # everything else is the book preset (its base)
    assert C.preset_layers(DCGAN, "book-bn")[0].changes == {"model.g_conv_bn": ("none", "all")}
    out = bn.G(torch.randn(4, 100))
    assert out.shape == (4, 3, 64, 64) and out.abs().max() <= 1


def test_conv_bn_only_for_the_book_arch():
    with pytest.raises(ConfigError, match="g_conv_bn"):
        resolve_config("dcgan", "paper", overrides=["model.g_conv_bn=all"])
