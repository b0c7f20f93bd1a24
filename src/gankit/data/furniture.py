"""``voxel-furniture``: procedural chairs, tables, sofas, beds, shelves and lamps as occupancy grids.

Each shape is a union of axis-aligned boxes and vertical cylinders / cone frusta with random proportions (legs,
seats, backs, arms, tops, shelves, shades), rasterised at voxel centres. Everything is vectorised over a chunk of
shapes with numpy, so thousands of 32^3 shapes take seconds.

Axes: a shape is ``v[x, y, z]`` with ``z`` up (the last axis), ``y`` front (low) to back (high), objects standing
on ``z = 0`` and centred in x and y — the 3D ShapeNets ``.mat`` convention.

Determinism: shapes come in chunks of ``CHUNK``; chunk ``k`` of class ``c`` in split ``s`` is drawn from
``default_rng([seed, c, s, k])``, so shape ``i`` of a class is the same whatever the number of shapes asked for,
and the held-out ``test`` split is a disjoint, fixed stream.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("chair", "table", "sofa", "bed", "shelf", "lamp")
CHUNK = 64
SPLITS = {"train": 0, "test": 1}


class _Canvas:
    """A chunk of ``n`` empty ``r^3`` grids and the primitive rasterisers (all params are (n,) arrays in [0, 1])."""

    def __init__(self, n: int, r: int, rng: np.random.Generator):
        self.n, self.r, self.rng = n, r, rng
        self.c = (np.arange(r, dtype=np.float32) + 0.5) / r  # voxel centres
        self.vol = np.zeros((n, r, r, r), dtype=bool)
        self.min_t = 1.5 / r  # thinnest part: at least one voxel thick at any resolution

    def u(self, lo, hi):
        return self.rng.uniform(lo, hi, self.n).astype(np.float32)

    def coin(self, p):
        return self.rng.random(self.n) < p

    def _iv(self, lo, hi):
        return (self.c[None] >= lo[:, None]) & (self.c[None] < hi[:, None])  # (n, r)

    def box(self, x0, x1, y0, y1, z0, z1, on=None):
        """Axis-aligned box; each extent is widened to ``min_t`` around its centre when thinner."""
        x0, x1 = self._thick(x0, x1)
        y0, y1 = self._thick(y0, y1)
        z0, z1 = self._thick(z0, z1)
        ax, ay, az = self._iv(x0, x1), self._iv(y0, y1), self._iv(z0, z1)
        m = ax[:, :, None, None] & ay[:, None, :, None] & az[:, None, None, :]
        if on is not None:
            m &= on[:, None, None, None]
        self.vol |= m

    def cyl(self, cx, cy, r0, r1, z0, z1, on=None):
        """Vertical cylinder (``r0 == r1``) or cone frustum: radius ``r0`` at ``z0`` to ``r1`` at ``z1``."""
        r0, r1 = np.maximum(r0, self.min_t / 2), np.maximum(r1, self.min_t / 2)
        z0, z1 = self._thick(z0, z1)
        c = self.c
        d2 = (c[None, :, None] - cx[:, None, None]) ** 2 + (c[None, None, :] - cy[:, None, None]) ** 2  # (n, r, r)
        t = np.clip((c[None] - z0[:, None]) / (z1 - z0)[:, None], 0, 1)  # (n, r)
        rad = r0[:, None] + (r1 - r0)[:, None] * t
        m = (d2[:, :, :, None] <= (rad**2)[:, None, None, :]) & self._iv(z0, z1)[:, None, None, :]
        if on is not None:
            m &= on[:, None, None, None]
        self.vol |= m

    def _thick(self, lo, hi):
        mid, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, self.min_t / 2)
        return mid - half, mid + half

    def legs(self, x0, x1, y0, y1, z1, t, inset, round_=None):
        """Four legs under a rectangle, from the floor to ``z1`` (square, or round where ``round_``)."""
        for xa, ya in (
            (x0 + inset, y0 + inset),
            (x1 - inset - t, y0 + inset),
            (x0 + inset, y1 - inset - t),
            (x1 - inset - t, y1 - inset - t),
        ):
            zero = np.zeros(self.n, np.float32)
            if round_ is None:
                self.box(xa, xa + t, ya, ya + t, zero, z1)
            else:
                self.box(xa, xa + t, ya, ya + t, zero, z1, on=~round_)
                self.cyl(xa + t / 2, ya + t / 2, t / 2 + 0.005, t / 2 + 0.005, zero, z1, on=round_)


def _chair(k: _Canvas):
    w, d = k.u(0.40, 0.68), k.u(0.40, 0.60)
    seat, st = k.u(0.30, 0.48), k.u(0.05, 0.10)
    top, bt, leg = k.u(0.72, 0.97), k.u(0.05, 0.09), k.u(0.05, 0.09)
    x0, x1, y0, y1 = 0.5 - w / 2, 0.5 + w / 2, 0.5 - d / 2, 0.5 + d / 2
    k.box(x0, x1, y0, y1, seat - st, seat)
    k.legs(x0, x1, y0, y1, seat - st, leg, k.u(0, 0.03), round_=k.coin(0.35))
    open_back = k.coin(0.35)  # two posts and a top rail instead of a solid back
    k.box(x0, x1, y1 - bt, y1, seat, top, on=~open_back)
    k.box(x0, x0 + leg, y1 - bt, y1, seat, top, on=open_back)
    k.box(x1 - leg, x1, y1 - bt, y1, seat, top, on=open_back)
    k.box(x0, x1, y1 - bt, y1, top - k.u(0.08, 0.16), top, on=open_back)
    arms = k.coin(0.35)
    ah = seat + k.u(0.14, 0.22)
    k.box(x0, x0 + leg, y0, y1, ah - 0.05, ah, on=arms)
    k.box(x1 - leg, x1, y0, y1, ah - 0.05, ah, on=arms)
    k.box(x0, x0 + leg, y0, y0 + leg, seat, ah, on=arms)
    k.box(x1 - leg, x1, y0, y0 + leg, seat, ah, on=arms)


def _table(k: _Canvas):
    w, d = k.u(0.55, 0.95), k.u(0.45, 0.90)
    h, tt, leg = k.u(0.38, 0.72), k.u(0.04, 0.09), k.u(0.05, 0.10)
    pedestal = k.coin(0.3)
    round_top = pedestal & k.coin(0.7)
    x0, x1, y0, y1 = 0.5 - w / 2, 0.5 + w / 2, 0.5 - d / 2, 0.5 + d / 2
    zero, mid = np.zeros(k.n, np.float32), np.full(k.n, 0.5, np.float32)
    k.box(x0, x1, y0, y1, h - tt, h, on=~round_top)
    rt = np.minimum(w, d) / 2
    k.cyl(mid, mid, rt, rt, h - tt, h, on=round_top)
    k.legs(x0, x1, y0, y1, h - tt, leg, k.u(0, 0.06), round_=k.coin(0.3) | pedestal)  # round legs: hidden below
    k.vol &= ~(pedestal[:, None, None, None] & ~_slab(k, h - tt))  # a pedestal table has no legs
    pr = k.u(0.035, 0.07)
    k.cyl(mid, mid, pr, pr, zero, h - tt, on=pedestal)
    br = k.u(0.15, 0.3)
    k.cyl(mid, mid, br, br * k.u(0.6, 1), zero, k.u(0.03, 0.06), on=pedestal)
    stretcher = ~pedestal & k.coin(0.3)  # a shelf between the legs
    k.box(x0 + leg, x1 - leg, y0 + leg, y1 - leg, k.u(0.08, 0.15), k.u(0.16, 0.2), on=stretcher)


def _slab(k: _Canvas, z0):
    """Mask of voxels at or above height ``z0`` (per shape)."""
    return (k.c[None] >= z0[:, None])[:, None, None, :]


def _sofa(k: _Canvas):
    w, d = k.u(0.75, 0.98), k.u(0.38, 0.60)
    lh, seat = k.u(0.03, 0.08), k.u(0.24, 0.38)
    bt, top = k.u(0.10, 0.18), k.u(0.52, 0.78)
    aw, ah = k.u(0.06, 0.14), k.u(0.05, 0.20)
    x0, x1, y0, y1 = 0.5 - w / 2, 0.5 + w / 2, 0.5 - d / 2, 0.5 + d / 2
    k.box(x0, x1, y0, y1, lh, seat)
    k.box(x0, x1, y1 - bt, y1, seat, top)
    arms = k.coin(0.85)
    k.box(x0, x0 + aw, y0, y1, seat, seat + ah, on=arms)
    k.box(x1 - aw, x1, y0, y1, seat, seat + ah, on=arms)
    k.legs(x0, x1, y0, y1, lh, k.u(0.04, 0.07), k.u(0, 0.03))
    cushions = k.coin(0.5)  # a raised seat cushion line
    k.box(x0 + aw, x1 - aw, y0 + 0.02, y1 - bt, seat, seat + k.u(0.03, 0.06), on=cushions)


def _bed(k: _Canvas):
    w, d = k.u(0.45, 0.80), k.u(0.82, 0.98)
    lh, mt = k.u(0.04, 0.12), k.u(0.20, 0.34)
    hb, ht = k.u(0.42, 0.80), k.u(0.04, 0.08)
    x0, x1, y0, y1 = 0.5 - w / 2, 0.5 + w / 2, 0.5 - d / 2, 0.5 + d / 2
    k.box(x0, x1, y0 + ht, y1 - ht, lh, mt)
    k.box(x0, x1, y1 - ht, y1, np.zeros(k.n, np.float32), hb)  # headboard at the back
    foot = k.coin(0.5)
    k.box(x0, x1, y0, y0 + ht, np.zeros(k.n, np.float32), mt + k.u(0, 0.14), on=foot)
    k.legs(x0, x1, y0 + ht, y1 - ht, lh, k.u(0.04, 0.07), np.zeros(k.n, np.float32))
    pillow = k.coin(0.6)
    k.box(x0 + 0.06, x1 - 0.06, y1 - ht - k.u(0.12, 0.18), y1 - ht - 0.01, mt, mt + k.u(0.04, 0.07), on=pillow)


def _shelf(k: _Canvas):
    w, d, h, t = k.u(0.35, 0.90), k.u(0.20, 0.42), k.u(0.55, 0.97), k.u(0.04, 0.07)
    x0, x1, y0, y1 = 0.5 - w / 2, 0.5 + w / 2, 0.5 - d / 2, 0.5 + d / 2
    zero = np.zeros(k.n, np.float32)
    k.box(x0, x0 + t, y0, y1, zero, h)
    k.box(x1 - t, x1, y0, y1, zero, h)
    k.box(x0, x1, y0, y1, h - t, h)
    kick = k.u(0, 0.08)
    k.box(x0, x1, y0, y1, kick, kick + t)
    k.box(x0, x1, y1 - t * 0.7, y1, zero, h, on=k.coin(0.5))  # back panel
    shelves = k.rng.integers(1, 5, k.n)
    for j in range(1, 5):
        z = kick + (h - kick) * j / (shelves + 1)
        k.box(x0, x1, y0, y1, z - t / 2, z + t / 2, on=j <= shelves)


def _lamp(k: _Canvas):
    mid, zero = np.full(k.n, 0.5, np.float32), np.zeros(k.n, np.float32)
    br, bh = k.u(0.09, 0.22), k.u(0.03, 0.07)
    k.cyl(mid, mid, br, br * k.u(0.7, 1), zero, bh)
    pole, ph = k.u(0.02, 0.045), k.u(0.40, 0.82)
    k.cyl(mid, mid, pole, pole, bh, ph)
    sh = k.u(0.14, 0.30)
    s0, s1 = k.u(0.14, 0.30), k.u(0.06, 0.20)
    top = np.minimum(ph + sh * k.u(0.2, 0.7), 0.99)
    k.cyl(mid, mid, s0, s1, top - sh, top)  # the shade: a cone frustum around the pole's top
    globe = k.coin(0.25)  # some lamps end in a ball-ish stack of frusta instead
    k.vol &= ~(globe[:, None, None, None] & _slab(k, top - sh) & ~_slab(k, top + 0.01))
    k.cyl(mid, mid, s1, s0, top - sh, top - sh / 2, on=globe)
    k.cyl(mid, mid, s0, s1, top - sh / 2, top, on=globe)
    k.cyl(mid, mid, pole, pole, bh, top - sh, on=globe)


BUILDERS = {"chair": _chair, "table": _table, "sofa": _sofa, "bed": _bed, "shelf": _shelf, "lamp": _lamp}


def generate_class(cls: str, n: int, res: int = 32, seed: int = 0, split: str = "train") -> np.ndarray:
    """``n`` shapes of class ``cls`` as bool (n, res, res, res); shape i is the same for any n > i."""
    ci, si = CLASSES.index(cls), SPLITS[split]
    out = np.zeros((n, res, res, res), dtype=bool)
    for start in range(0, n, CHUNK):
        k = _Canvas(CHUNK, res, np.random.default_rng([seed, ci, si, start // CHUNK]))
        BUILDERS[cls](k)
        out[start : start + CHUNK] = k.vol[: n - start]
    return out


def generate(
    n: int, res: int = 32, seed: int = 0, split: str = "train", classes: tuple[str, ...] = CLASSES
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` shapes interleaved by class (shape i has class ``i % len(classes)``), so any prefix is balanced.
    Returns bool (n, res, res, res) voxels and int64 labels."""
    k = len(classes)
    per = -(-n // k)
    vols = [generate_class(c, per, res, seed, split) for c in classes]
    idx = np.arange(n)
    labels = idx % k
    out = np.empty((n, res, res, res), dtype=bool)
    for c in range(k):
        sel = labels == c
        out[sel] = vols[c][: sel.sum()]
    return out, labels.astype(np.int64)
