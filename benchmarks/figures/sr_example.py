"""docs/img/sr_example.png: held-out OpenMoji, columns LR (nearest x4) | bicubic | SRResNet | SRGAN | HR."""

import sys

import torch

from gankit.config import DataConfig
from gankit.data.sr import bicubic_up, load_sr
from gankit.pipelines import UpscalePipeline
from gankit.viz.grid import grid_image

stage1, stage2, out = sys.argv[1], sys.argv[2], sys.argv[3]
picks = [int(a) for a in sys.argv[4].split(",")]
d = load_sr(DataConfig(name="openmoji", size=128), crop=16, scale=4)
g1, g2 = UpscalePipeline.from_checkpoint(stage1).G, UpscalePipeline.from_checkpoint(stage2).G
rows = []
with torch.no_grad():
    for i in picks:
        hr, lr = d.heldout_pair(i)
        near = torch.nn.functional.interpolate(lr, scale_factor=4, mode="nearest")
        rows += [near, bicubic_up(lr), g1(lr), g2(lr), hr]
grid_image(torch.cat(rows), 5, pad=2).save(out, optimize=True)
print(out, [d.heldout_names[i] for i in picks])
