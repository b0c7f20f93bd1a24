"""PSNR, SSIM, LPIPS (plumbing with random weights) and D accuracy."""

import math

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.metrics import LPIPS, d_accuracy, psnr, ssim


def test_psnr_closed_form_and_border_crop():
    a = torch.zeros(2, 3, 16, 16)
    b = a + 0.2  # in [-1, 1]: 0.1 on the [0, 1] scale, on every channel and therefore on the luma too
    # RGB: mse = 0.01; Y: Y = (16 + 219 * v) / 255, so a [0, 1] shift of 0.1 moves Y by 0.1 * 219 / 255
    assert psnr(a, b, y=False) == pytest.approx(20.0, abs=1e-4)
    assert psnr(a, b, y=True) == pytest.approx(-20 * math.log10(0.1 * 219 / 255), abs=1e-4)
    c = a.clone()
    c[..., :2, :] = 1.0  # damage only a 2-pixel border: cropping it removes all the error
    assert psnr(a, c, y=False, crop=2) > 150 and psnr(a, c, y=False) < 20
    per_image = psnr(a, b, y=False, reduce=False)
    assert per_image.shape == (2,)


def test_ssim_identity_constant_images_and_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=g) * 2 - 1
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-9)
    # two constant images u, v (on [0, 1]): SSIM = (2uv + C1) / (u^2 + v^2 + C1) exactly
    u, v, c1 = 0.25, 0.75, 0.01**2
    a, b = torch.full((1, 1, 16, 16), 2 * u - 1), torch.full((1, 1, 16, 16), 2 * v - 1)
    assert ssim(a, b, y=False) == pytest.approx((2 * u * v + c1) / (u * u + v * v + c1), rel=1e-9)
    noisy = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    noisier = (x + 0.8 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    assert 1 > ssim(x, noisy) > ssim(x, noisier)
    with pytest.raises(GankitError):
        ssim(x[..., :8, :8], x[..., :8, :8])  # smaller than the 11 px window


def test_lpips_plumbing_with_random_weights(tmp_path):
    import torchvision

    with pytest.raises(GankitError, match="weights"):
        LPIPS("alex")  # no silent download, no silent random weights
    torch.manual_seed(0)
    backbone = tmp_path / "alexnet.pth"
    sd = torchvision.models.alexnet().state_dict()
    torch.save(sd, backbone)
    lin = tmp_path / "alex-lin.pth"
    torch.save({f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate([64, 192, 384, 256, 256])}, lin)
    m = LPIPS("alex", backbone, lin)
    assert torch.equal(m.slices[2][1].weight, sd["features.6.weight"])  # slice 2 = features[5:8]: pool, conv6, relu
    assert torch.equal(m.lin4.model[1].weight, torch.load(lin)["lin4.model.1.weight"])
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 64, 64, generator=g) * 2 - 1
    y = torch.rand(3, 3, 64, 64, generator=g) * 2 - 1
    d_same, d_diff = m(x, x), m(x, y)
    assert d_same.shape == (3,) and torch.all(d_same.abs() < 1e-6) and torch.all(d_diff > 0)
    assert m(x[:, :1], y[:, :1]).shape == (3,)  # greyscale is replicated
    bad = tmp_path / "bad.pth"
    torch.save({"lin0.model.1.weight": torch.rand(1, 64, 1, 1)}, bad)
    with pytest.raises(GankitError, match="missing"):
        LPIPS("alex", backbone, bad)
    assert LPIPS("alex", random_weights=True)(x, y).shape == (3,)


def test_d_accuracy_counts_real_and_fake_judgements():
    class D(nn.Module):  # calls an image real when its mean is positive
        def forward(self, x):
            return x.mean((1, 2, 3))

    real = torch.cat([torch.full((3, 1, 4, 4), 0.5), torch.full((1, 1, 4, 4), -0.5)])  # 3 of 4 judged real
    fake = torch.cat([torch.full((1, 1, 4, 4), 0.5), torch.full((1, 1, 4, 4), -0.5)])  # 1 of 2 judged fake
    assert d_accuracy(D(), real, fake) == {"D/acc_real": 0.75, "D/acc_fake": 0.5}
