"""Training health: signals logged during the run, a NaN/Inf guard with rollback, and ``health.md``.

- Signals (``health/*`` in metrics.jsonl, plotted): G and D gradient norms (reported by the recipes),
  ``health/diversity`` — mean pairwise distance of the fixed latent bank's samples (raw G, at every grid) divided by
  that of as many real images (features: images average-pooled to 8x8; ~1 for a varied G, 0 for a constant one); for a
  conditional recipe also ``health/diversity_class_min`` — the same ratio within each class of the bank (against
  real images of that class), lowest class: a G that ignores z is varied across classes and constant within them;
  and ``health/distinct_class_min`` — the fewest distinct images in a class of the bank, as a fraction of its samples
  (eight latents that draw three faces: 3/8), which the distance ratio misses when the few faces differ a lot.
  D accuracy on real and fake and D's logit gap come from the recipes (``D/*``).
- Guard: when a logged value is NaN/Inf, or the weights are not finite at a checkpoint, the Trainer restores
  the last good checkpoint (the initial state before the first save), multiplies every learning rate by
  ``train.rollback_lr_factor`` and continues — at most ``train.max_rollbacks`` times, then it stops with
  ``TrainingDiverged`` naming what happened. Distributed runs stop at the first non-finite value.
- ``health.md`` in the run directory (rewritten at every checkpoint and at the end): collapse suspected,
  collapse within a class (conditional recipes), D dominating, divergence — each with the evidence.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import GankitError

COLLAPSE_RATIO = 0.25  # diversity below this fraction of the real data's -> collapse suspected
SAME_IMAGE = 0.2  # samples closer than this fraction of their class's real mean pairwise distance: one image
# (eight random real emoji faces of one bin count 5 to 8 at 0.2 over 20 draws; as few as 4 at 0.3)
DISTINCT_MIN = 0.5  # a class whose bank samples hold at most this fraction of distinct images has collapsed
D_DOMINATES_ACC = 0.95  # D accuracy on real and fake both above this over the last stretch of the run


class TrainingDiverged(GankitError):
    pass


def features(images: torch.Tensor) -> torch.Tensor:
    x = images.detach().float()
    if x.dim() == 4 and x.shape[-1] > 8:
        x = F.adaptive_avg_pool2d(x, 8)
    return x.flatten(1)


def mean_pairwise_distance(images: torch.Tensor) -> float:
    f = features(images)
    if f.shape[0] < 2:
        return float("nan")
    d = torch.cdist(f, f, compute_mode="donot_use_mm_for_euclid_dist")
    n = f.shape[0]
    return float(d.sum() / (n * (n - 1)))


def grouped_distance(images: torch.Tensor, groups: torch.Tensor) -> dict[int, float]:
    """Mean pairwise distance within each group (a class, or one translation input) of at least two images."""
    out = {}
    for g in groups.unique().tolist():
        m = groups == g
        if int(m.sum()) >= 2:
            out[int(g)] = mean_pairwise_distance(images[m])
    return out


def class_diversity(sample, data, classes: int, n: int = 16) -> list[float]:
    """Per class c: the mean pairwise distance of ``sample(c, n)`` (n generated images of class c) over that of the
    first n images of class c in the labelled ``data`` — the measure of collapse within a class (a G that ignores z
    scores 0, one as varied as the data about 1)."""
    out = []
    for c in range(classes):
        real = data.batch(torch.nonzero(data.labels == c).flatten()[:n])["image"]
        out.append(mean_pairwise_distance(sample(c, n)) / mean_pairwise_distance(real))
    return out


def labelled_items(data) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(item indices, their labels), one item per stored image: a set whose ``rows`` map a balanced index space onto
    its images (the age sets) gives the first index of each image; one whose labels index its items gives them all;
    otherwise None."""
    labels = getattr(data, "labels", None)
    if labels is None:
        return None
    if hasattr(data, "rows"):
        idx = torch.arange(len(data))
        rows = data.rows(idx)
        uniq, inv = torch.unique(rows, return_inverse=True)
        first = torch.full((len(uniq),), len(idx)).scatter_reduce(0, inv, idx, "amin")
        return first, labels[rows[first]]
    if len(labels) == len(data):
        return torch.arange(len(data)), labels
    return None


def distinct_count(images: torch.Tensor, radius: float) -> int:
    """How many different images a set holds: greedily, each image joins the first kept one within ``radius``
    (distance of the health features) or is kept itself. Eight latents drawing three faces count 3."""
    f = features(images)
    kept: list[torch.Tensor] = []
    for v in f:
        if not kept or float(torch.stack(kept).sub(v).norm(dim=1).min()) > radius:
            kept.append(v)
    return len(kept)


def params_finite(nets) -> bool:
    return all(bool(torch.isfinite(p).all()) for net in nets for p in net.parameters())


class HealthMonitor:
    def __init__(self, max_rollbacks: int = 3, lr_factor: float = 0.5, window: int = 5):
        self.max_rollbacks, self.lr_factor, self.window = max_rollbacks, lr_factor, window
        self.rows: list[dict] = []  # logged training rows (finite)
        self.diversity: list[tuple[int, float, float]] = []  # (step, ratio, fake distance)
        self.rollbacks: list[dict] = []
        self.stopped: str | None = None
        self.real_distance: float | None = None
        self.class_distance: dict[int, float] | None = None  # conditional models: per class, real data
        self.by_class: list[tuple[int, dict[int, float]]] = []  # (step, {class: ratio})
        self.distinct: list[tuple[int, dict[int, tuple[int, int]]]] = []  # (step, {class: (distinct, samples)})

    # ---------------------------------------------------------------- signals
    def observe(self, row: dict) -> None:
        self.rows.append({k: v for k, v in row.items() if k == "step" or k.startswith(("D/", "loss/", "health/"))})

    def reference(self, data, n: int, device) -> float | None:
        """Mean pairwise distance of ``n`` real images (a fixed subset), computed once."""
        if self.real_distance is None:
            try:
                idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(1234))[: max(2, n)]
                real = data.batch(idx, device, torch.Generator().manual_seed(1234)).get("image")
            except Exception:  # a dataset without single images (none of the image recipes): no reference
                real = None
            self.real_distance = mean_pairwise_distance(real) if real is not None else float("nan")
        return self.real_distance

    def class_reference(self, data, per_class: int, device) -> dict[int, float]:
        """Mean pairwise distance of ``per_class`` real images of each class (a fixed subset), computed once."""
        if self.class_distance is None:
            self.class_distance = {}
            items = labelled_items(data)
            if items is not None:
                first, labels = items
                perm = torch.randperm(len(first), generator=torch.Generator().manual_seed(1234))
                order, lab = first[perm], labels[perm]
                for c in lab.unique().tolist():
                    idx = order[lab == c][: max(2, per_class)]
                    if len(idx) >= 2:
                        real = data.batch(idx, device, torch.Generator().manual_seed(1234)).get("image")
                        if real is None:  # not images (voxels: the grid shows renders): no per-class reference
                            return self.class_distance
                        self.class_distance[int(c)] = mean_pairwise_distance(real)
        return self.class_distance

    def on_grid(self, step: int, images: torch.Tensor, data, fixed: dict) -> dict:
        """Diversity of the fixed latent bank's samples (only for latent-driven recipes); for a conditional
        recipe (``label`` in the bank) also within each class, against real images of that class."""
        if "z" not in fixed or images.shape[0] < 2 or (self.diversity and self.diversity[-1][0] == step):
            return {}
        ref = self.reference(data, images.shape[0], images.device)
        d = mean_pairwise_distance(images)
        ratio = d / ref if ref and math.isfinite(ref) and ref > 0 else float("nan")
        self.diversity.append((step, ratio, d))
        out = {"health/diversity": ratio}
        if "label" in fixed:
            labels = fixed["label"].to(images.device)
            per = max(2, int(torch.bincount(labels).max()))
            cref = self.class_reference(data, per, images.device)
            fake = grouped_distance(images, labels)
            ratios = {c: fake[c] / cref[c] for c in fake if cref.get(c, 0) > 0}
            if ratios:
                self.by_class.append((step, ratios))
                out["health/diversity_class_min"] = min(ratios.values())
                counts = {
                    c: (distinct_count(images[labels == c], SAME_IMAGE * cref[c]), int((labels == c).sum()))
                    for c in ratios
                }
                self.distinct.append((step, counts))
                out["health/distinct_class_min"] = min(d / n for d, n in counts.values())
        return out

    # ---------------------------------------------------------------- the guard
    def rollback(self, trainer, reason: str) -> None:
        """Restore the last good state with lower learning rates, or stop (TrainingDiverged)."""
        step = trainer.step
        good = trainer.last_good()
        if good is None or trainer.distributed or len(self.rollbacks) >= self.max_rollbacks:
            why = (
                "no good state to go back to"
                if good is None
                else "distributed runs do not roll back"
                if trainer.distributed
                else f"after {len(self.rollbacks)} rollback(s) (train.max_rollbacks={self.max_rollbacks})"
            )
            self.stopped = f"{reason} at step {step}; stopped {why}"
            raise TrainingDiverged(
                f"training diverged: {self.stopped}. The last good checkpoint is kept; "
                f"try a lower train.lr / train.lr_d, model.gp or model.d_norm=spectral"
            )
        elapsed = trainer.elapsed
        before = {n: list(s.base_lrs) for n, s in trainer.schedulers.items()}
        trainer._restore(good)
        trainer.elapsed = elapsed
        lrs = trainer.scale_lr(self.lr_factor, floor=before)  # lower than both the restored and the failing base LR
        self.rows = [r for r in self.rows if r["step"] <= trainer.step]
        ev = {"at_step": step, "reason": reason, "back_to": trainer.step, "lr": lrs}
        self.rollbacks.append(ev)
        import sys

        print(
            f"health: {reason} at step {step}; rolled back to step {trainer.step}, learning rates now "
            + ", ".join(f"{k}={v:.3g}" for k, v in lrs.items())
            + f" (rollback {len(self.rollbacks)}/{self.max_rollbacks})",
            file=sys.stderr,
            flush=True,
        )

    # ---------------------------------------------------------------- the report
    def findings(self) -> dict[str, tuple[bool, str]]:
        out = {}
        # collapse: the latest diversity measurements are low
        trained = [d for d in self.diversity if d[0] > 0]  # step 0 is the untrained G
        if trained:
            last = trained[-min(2, len(trained)) :]
            ratios = [r for _, r, _ in last if math.isfinite(r)]
            flag = bool(ratios) and max(ratios) < COLLAPSE_RATIO
            hist = ", ".join(f"step {s}: {r:.3f}" for s, r, _ in self.diversity[-6:])
            out["collapse suspected"] = (
                flag,
                f"diversity of the fixed latent bank's samples relative to real data "
                f"(threshold {COLLAPSE_RATIO}): {hist}; real mean pairwise distance "
                f"{self.real_distance:.4g}",
            )
        else:
            out["collapse suspected"] = (
                False,
                "no diversity measurement after training began (none is made for recipes without a latent bank)",
            )
        trained = [b for b in self.by_class if b[0] > 0]
        if trained:  # conditional: G may vary across classes yet draw one image (or a few) per class
            last = trained[-min(2, len(trained)) :]
            worst = {c: max(r[c] for _, r in last if c in r) for c in last[-1][1]}
            low = sorted(c for c, r in worst.items() if r < COLLAPSE_RATIO)
            step, ratios = last[-1]
            ev = (
                f"diversity within each class of the fixed bank's samples relative to real images of that class "
                f"(threshold {COLLAPSE_RATIO}) at step {step}: " + ", ".join(f"{c}: {r:.3f}" for c, r in ratios.items())
            )
            counts = dict(self.distinct).get(step, {})
            few = sorted(c for c, (d, n) in counts.items() if d <= DISTINCT_MIN * n)
            if counts:
                ev += (
                    f"; distinct images per class (closer than {SAME_IMAGE} x the class's real mean pairwise "
                    f"distance: one image; collapsed at <= {DISTINCT_MIN:.0%}): "
                    + ", ".join(f"{c}: {d}/{n}" for c, (d, n) in counts.items())
                )
            if few:
                ev = f"classes {few} draw few distinct images; " + ev
            if low:
                ev = f"classes {low} collapsed (G ignores z there); " + ev
            out["collapse within a class"] = (bool(low or few), ev)
        # D dominating: D classifies both real and fake almost perfectly over the last stretch
        rows = [r for r in self.rows if "D/acc_real" in r and "D/acc_fake" in r]
        if rows:
            tail = rows[-max(self.window, len(rows) // 5) :]
            ar = sum(r["D/acc_real"] for r in tail) / len(tail)
            af = sum(r["D/acc_fake"] for r in tail) / len(tail)
            g = [r["health/grad_G"] for r in tail if "health/grad_G" in r]
            gap = [r["D/logit_gap"] for r in tail if "D/logit_gap" in r]
            flag = ar > D_DOMINATES_ACC and af > D_DOMINATES_ACC
            ev = (
                f"over the last {len(tail)} log rows (steps {tail[0]['step']}-{tail[-1]['step']}): D accuracy "
                f"real {ar:.3f}, fake {af:.3f} (threshold {D_DOMINATES_ACC} both)"
            )
            if gap:
                ev += f", logit gap {sum(gap) / len(gap):.3g}"
            if g:
                ev += f", G gradient norm {sum(g) / len(g):.3g}"
            out["D dominating"] = (flag, ev)
        else:
            out["D dominating"] = (False, "no D accuracy logged")
        if self.rollbacks or self.stopped:
            ev = "; ".join(
                f"{e['reason']} at step {e['at_step']} -> rolled back to step {e['back_to']}, lr "
                + ", ".join(f"{k}={v:.3g}" for k, v in e["lr"].items())
                for e in self.rollbacks
            )
            if self.stopped:
                ev += ("; " if ev else "") + f"STOPPED: {self.stopped}"
            out["divergence"] = (True, ev)
        else:
            out["divergence"] = (False, "all logged values and checkpointed weights finite")
        return out

    def markdown(self, title: str, step: int) -> str:
        lines = [f"# Training health: {title}", "", f"At step {step}.", ""]
        for name, (flag, ev) in self.findings().items():
            lines.append(f"- **{name}: {'YES' if flag else 'no'}** — {ev}")
        if self.rows:
            last = self.rows[-1]
            keys = [
                k for k in ("D/acc_real", "D/acc_fake", "D/logit_gap", "health/grad_D", "health/grad_G") if k in last
            ]
            if keys:
                lines += ["", "Last logged: " + ", ".join(f"{k} {last[k]:.4g}" for k in keys) + "."]
        return "\n".join(lines) + "\n"

    def write(self, run_dir: Path, title: str, step: int) -> Path:
        from .checkpoint import write_text_atomic

        path = Path(run_dir) / "health.md"
        write_text_atomic(path, self.markdown(title, step))
        return path
