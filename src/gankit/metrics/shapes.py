"""Shape-set metrics for 3D generators (Achlioptas et al. 2018), maths only: plain functions on tensors.

Distances between shapes: ``iou_distance`` (1 - IoU of occupancy grids) and ``chamfer_distance`` (symmetric mean
squared nearest-neighbour distance between point clouds sampled from the surfaces). From the generated-vs-reference
(``d_gr``), generated-vs-generated and reference-vs-reference matrices:
- COV: the share of reference shapes that are the nearest reference of at least one generated shape (higher is
  better: the generator covers the set);
- MMD: the mean over reference shapes of the distance to the closest generated shape (lower: fidelity);
- 1-NNA: leave-one-out 1-nearest-neighbour accuracy of telling generated from reference in the union (50% is
  ideal; 100% means the two sets are told apart perfectly).
"""

from __future__ import annotations

import torch


def iou_distance(a: torch.Tensor, b: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """1 - IoU between every row of ``a`` (n x ...) and ``b`` (m x ...), both binary occupancy; n x m.
    Two empty shapes have distance 0, an empty and a non-empty one 1."""
    a = a.reshape(a.shape[0], -1).float()
    b = b.reshape(b.shape[0], -1).float()
    sb = b.sum(1)
    out = []
    for i in range(0, a.shape[0], chunk):
        x = a[i : i + chunk]
        inter = x @ b.T
        union = x.sum(1, keepdim=True) + sb[None] - inter
        iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
        out.append(1 - iou)
    return torch.cat(out) if out else torch.empty(0, b.shape[0])


def chamfer_distance(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer distance between point clouds ``p`` (n x k x 3) and ``q`` (m x l x 3): for every pair,
    mean squared distance from each point to the other cloud's nearest point, both ways, summed; n x m."""
    p, q = p.float(), q.float()
    m, l = q.shape[:2]
    qf = q.reshape(-1, 3)
    qn = (qf * qf).sum(1)
    out = torch.empty(p.shape[0], m)
    for i, x in enumerate(p):  # one cloud against all of q in one matmul: k x (m * l) squared distances
        d = ((x * x).sum(1)[:, None] + qn[None] - 2 * x @ qf.T).clamp(min=0).view(-1, m, l)
        out[i] = d.min(2).values.mean(0) + d.min(0).values.mean(1)
    return out


def coverage(d_gr: torch.Tensor) -> float:
    """Share of reference shapes matched as the nearest neighbour of some generated shape."""
    return d_gr.argmin(1).unique().numel() / d_gr.shape[1]


def mmd(d_gr: torch.Tensor) -> float:
    """Mean over reference shapes of the distance to their closest generated shape."""
    return float(d_gr.min(0).values.mean())


def one_nna(d_gg: torch.Tensor, d_rr: torch.Tensor, d_gr: torch.Tensor) -> float:
    """Leave-one-out 1-NN accuracy on generated (class 0) + reference (class 1); ties count half."""
    ng, nr = d_gr.shape
    top = torch.cat([d_gg, d_gr], 1)
    bottom = torch.cat([d_gr.T, d_rr], 1)
    d = torch.cat([top, bottom]).clone()
    d.fill_diagonal_(float("inf"))
    labels = torch.cat([torch.zeros(ng), torch.ones(nr)])
    nearest = labels[d.argmin(1)]
    return float((nearest == labels).float().mean())


def shape_metrics(d_gg: torch.Tensor, d_rr: torch.Tensor, d_gr: torch.Tensor) -> dict[str, float]:
    return {"cov": coverage(d_gr), "mmd": mmd(d_gr), "1nna": one_nna(d_gg, d_rr, d_gr)}
