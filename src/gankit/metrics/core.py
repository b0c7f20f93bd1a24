"""The maths of the sample-quality scores, on feature matrices (N x d). No network, no I/O.

Each function follows the published definition and the defaults of torch-fidelity (whose functions the tests
compare against), so a gankit number and a torch-fidelity number on the same features are the same number:

- FID (Heusel et al. 2017): ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)).
- KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic kernel k(x, y) = (x.y / d + 1)^3, averaged over
  ``subsets`` random subsets of ``subset_size`` (drawn without replacement, as torch-fidelity draws them).
- IS (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` chunks.
- Improved precision / recall (Kynkaanniemi et al. 2019): k-NN balls (k = 3) around each real (fake) feature.
"""

from __future__ import annotations

import numpy as np
import torch


def _np64(x) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------- FID


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N-1) covariance of an N x d feature matrix, in float64."""
    f = _np64(features)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an N x d feature matrix with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues clipped)."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)): the matrix inside is symmetric PSD, so its
    eigenvalues are real and non-negative, which avoids the complex round-off of a general ``sqrtm``.
    """
    mu1, mu2, s1, s2 = _np64(mu1), _np64(mu2), _np64(sigma1), _np64(sigma2)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"statistics of different dimension: {mu1.shape} vs {mu2.shape}")
    r1 = _sqrtm_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def fid(real, fake) -> float:
    """FID between two feature matrices."""
    return frechet_distance(*feature_stats(real), *feature_stats(fake))


# --------------------------------------------------------------------------- KID


def poly_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0):
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased MMD^2 between samples x (m x d) and y (m x d) with the polynomial kernel:
    sum_{i!=j} k(x_i, x_j) / m(m-1) + sum_{i!=j} k(y_i, y_j) / m(m-1) - 2 sum_{i,j} k(x_i, y_j) / m^2."""
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = poly_kernel(x, x, degree), poly_kernel(y, y, degree), poly_kernel(x, y, degree)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.sum() / (m * n)
    )


def kid(real, fake, subsets: int = 100, subset_size: int = 1000, seed: int = 2020) -> tuple[float, float]:
    """KID mean and std over random subsets. ``subset_size`` is capped at the smaller sample count."""
    r, f = _np64(real), _np64(fake)
    size = min(subset_size, len(r), len(f))
    if size < 2:
        raise ValueError("KID needs at least 2 samples on each side")
    rng = np.random.RandomState(seed)
    vals = np.empty(subsets)
    for i in range(subsets):  # same draw order as torch-fidelity: the first argument's subset first
        a = r[rng.choice(len(r), size, replace=False)]
        b = f[rng.choice(len(f), size, replace=False)]
        vals[i] = mmd2_unbiased(a, b)
    return float(vals.mean()), float(vals.std())


# --------------------------------------------------------------------------- IS


def inception_score(logits, splits: int = 10, shuffle: bool = True, seed: int = 2020) -> tuple[float, float]:
    """IS mean and std over ``splits`` chunks, from classifier logits (N x classes)."""
    x = logits.detach().cpu().double() if torch.is_tensor(logits) else torch.as_tensor(logits, dtype=torch.float64)
    n = x.shape[0]
    if n < splits:
        raise ValueError(f"IS with {splits} splits needs at least {splits} samples, got {n}")
    if shuffle:
        x = x[torch.as_tensor(np.random.RandomState(seed).permutation(n))]
    p, log_p = x.softmax(1), x.log_softmax(1)
    scores = []
    for i in range(splits):
        sl = slice(i * n // splits, (i + 1) * n // splits)
        q = p[sl].mean(0, keepdim=True)  # the marginal p(y) of this chunk
        kl = (p[sl] * (log_p[sl] - q.log())).sum(1).mean()
        scores.append(kl.exp().item())
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------- precision / recall


def _kth_nn_radius(x: torch.Tensor, k: int, batch: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row (the row itself is at distance 0)."""
    return torch.cat([torch.cdist(xb, x).kthvalue(k + 1, dim=1).values for xb in x.split(batch)])


def _inside_any_ball(query: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([(torch.cdist(qb, centres) <= radii[None]).any(1) for qb in query.split(batch)])


def precision_recall(real, fake, k: int = 3, batch: int = 2048) -> tuple[float, float]:
    """Improved precision (share of fakes inside the real manifold) and recall (share of reals inside the
    fake manifold); each manifold is the union of balls reaching each point's k-th nearest neighbour."""
    r = torch.as_tensor(_np64(real), dtype=torch.float32)
    f = torch.as_tensor(_np64(fake), dtype=torch.float32)
    if len(r) <= k or len(f) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples on each side")
    precision = _inside_any_ball(f, r, _kth_nn_radius(r, k, batch), batch).float().mean().item()
    recall = _inside_any_ball(r, f, _kth_nn_radius(f, k, batch), batch).float().mean().item()
    return precision, recall
