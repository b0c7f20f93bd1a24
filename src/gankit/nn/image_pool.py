"""CycleGAN's history of generated images (Shrivastava et al. 2017; Zhu et al. 2017 sec. 4): D is trained on a
mix of the newest fakes and up to ``size`` older ones, which damps oscillation.

Until the pool is full every fake is stored and returned as is. Then each fake, with probability 1/2, is returned
as is; otherwise a random stored image is returned in its place and the new fake takes its slot. The draws go
through the ``generator`` passed in, and the contents live in buffers, so a checkpoint (the module's state_dict)
resumes the exact same sequence.
"""

from __future__ import annotations

import torch
from torch import nn


class ImagePool(nn.Module):
    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(max(size, 0), *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.size <= 0:
            return images
        images = images.detach()
        out = []
        for img in images:
            n = int(self.count)
            if n < self.size:
                self.images[n].copy_(img)
                self.count += 1
                out.append(img)
            elif torch.rand((), generator=generator, device=self.images.device) < 0.5:
                j = int(torch.randint(0, self.size, (), generator=generator, device=self.images.device))
                out.append(self.images[j].clone())
                self.images[j].copy_(img)
            else:
                out.append(img)
        return torch.stack(out)


class PoolPair(nn.Module):
    """The two pools of a CycleGAN: fakes of domain A and fakes of domain B."""

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.A, self.B = ImagePool(size, shape), ImagePool(size, shape)
