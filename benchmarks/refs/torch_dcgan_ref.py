"""Speed reference: the Keras CIFAR-10 DCGAN tutorial's nets as a plain PyTorch user writes them (eager, fp32,
default threads).

The nets are the tutorial's (tests/test_bench_refs.py checks them against its layer table and its
``summary()`` parameter counts: G 1,466,115, D 522,497). One iteration = the tutorial's batch of 128: D on 64 real and
64 fake images (one optimizer step on the summed loss), then G on 128 latents. Prints img_per_s (128 per iteration).
Usage: python benchmarks/refs/torch_dcgan_ref.py [iterations]
"""
import sys
import time

import torch
from torch import nn

LATENT, N_BATCH, HALF = 100, 128, 64


def generator() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(LATENT, 256 * 4 * 4), nn.LeakyReLU(0.2), nn.Unflatten(1, (256, 4, 4)),  # foundation for 4x4
        nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.LeakyReLU(0.2),  # 8x8
        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),  # 16x16
        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),  # 32x32
        nn.Conv2d(128, 3, 3, 1, 1), nn.Tanh())


def discriminator() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, 1, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 3, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(128, 128, 3, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(128, 256, 3, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Dropout(0.4), nn.Linear(256 * 4 * 4, 1))  # sigmoid folded into the loss


def main() -> None:
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    g, d = generator(), discriminator()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    data = torch.rand(5000, 3, 32, 32) * 2 - 1
    ones, zeros = torch.ones(HALF, 1), torch.zeros(HALF, 1)

    def iteration():
        real = data[torch.randint(0, len(data), (HALF,))]
        with torch.no_grad():
            fake = g(torch.randn(HALF, LATENT))
        opt_d.zero_grad()
        (bce(d(real), ones) + bce(d(fake), zeros)).backward()
        opt_d.step()
        opt_g.zero_grad()
        bce(d(g(torch.randn(N_BATCH, LATENT))), torch.ones(N_BATCH, 1)).backward()
        opt_g.step()

    for _ in range(3):  # warm-up
        iteration()
    t = time.perf_counter()
    for _ in range(iters):
        iteration()
    dt = time.perf_counter() - t
    print(f"torch-plain-dcgan threads={torch.get_num_threads()} iters={iters} sec={dt:.2f} "
          f"img_per_s={iters * N_BATCH / dt:.1f}")


if __name__ == "__main__":
    main()
