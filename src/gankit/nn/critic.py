"""The critic wrapper the image recipes share (models/toolbox.py): any D body gets minibatch discrimination,
feature outputs (for feature matching) and a class input (concat or projection)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import MinibatchDiscrimination, maybe_sn


class Critic(nn.Module):
    """D = head(body(x)): ``body`` maps images to flat hidden features f(x) (the layer feature matching uses);
    the head adds minibatch discrimination, dropout and the final linear unit; ``cond`` adds a class:
    ``concat`` (one-hot maps stacked onto the input; the body must take C + K channels) or ``projection``
    (Miyato & Koyama 2018: + <embed(y), f(x)>)."""

    def __init__(self, body: nn.Module, n_feat: int, o, dropout: float = 0.0, num_classes: int = 0, cond: str = "none"):
        super().__init__()
        sn = maybe_sn(getattr(o, "d_norm", "none"))
        self.body = body
        self.mbd = MinibatchDiscrimination(n_feat, o.minibatch_disc, o.minibatch_dim) if o.minibatch_disc else None
        n_in = n_feat + (o.minibatch_disc if self.mbd is not None else 0)
        self.head = nn.Sequential(*([nn.Dropout(dropout)] if dropout else []), sn(nn.Linear(n_in, 1)))
        self.cond, self.num_classes = cond, num_classes
        if cond == "projection":
            self.embed = sn(nn.Embedding(num_classes, n_feat))

    def forward(self, x, label=None, features: bool = False):
        if self.cond == "concat":
            onehot = F.one_hot(label, self.num_classes).to(x.dtype)
            x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        f = self.body(x)
        h = torch.cat([f, self.mbd(f)], 1) if self.mbd is not None else f
        out = self.head(h)
        if self.cond == "projection":
            out = out + (self.embed(label) * f).sum(1, keepdim=True)
        return (out, f) if features else out
