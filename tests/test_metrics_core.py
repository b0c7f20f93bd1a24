"""The maths of FID / KID / IS / precision-recall against closed forms, direct computations and torch-fidelity."""

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.metrics import core


def rand_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_fid_of_a_set_against_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert abs(core.fid(x, x)) < 1e-8
    y = x + 0.5  # a shift of every feature by 0.5 costs exactly d * 0.25
    assert core.fid(x, y) == pytest.approx(16 * 0.25, rel=1e-9)


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(1)
    d = 6
    # commuting (diagonal) covariances: ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.2, 3, d), rng.uniform(0.2, 3, d)
    expect = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert core.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expect, rel=1e-10)
    # general covariances: the textbook formula with scipy's matrix square root
    s1, s2 = rand_cov(rng, d), rand_cov(rng, d)
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert core.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)
    # symmetric, and zero for identical Gaussians
    assert core.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(ref, rel=1e-8)
    assert abs(core.frechet_distance(mu1, s1, mu1, s1)) < 1e-9


def test_fid_of_samples_from_known_gaussians_approaches_the_closed_form():
    rng = np.random.default_rng(2)
    d, n = 4, 200_000
    mu1, mu2 = np.zeros(d), np.array([1.0, -0.5, 0.0, 2.0])
    s1, s2 = rand_cov(rng, d), rand_cov(rng, d)
    x = rng.multivariate_normal(mu1, s1, n)
    y = rng.multivariate_normal(mu2, s2, n)
    exact = core.frechet_distance(mu1, s1, mu2, s2)
    assert core.fid(x, y) == pytest.approx(exact, rel=0.02)


def direct_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as the defining double sums."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return sxx + syy - 2 * sxy


def test_kid_equals_a_direct_unbiased_mmd2_with_the_cubic_kernel():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 5)), rng.normal(0.3, 1.2, size=(30, 5))
    assert core.mmd2_unbiased(x, y) == pytest.approx(direct_mmd2(x, y), rel=1e-10)
    # one subset of the whole set is a permutation of it: KID is then exactly the MMD^2 of the two sets
    mean, std = core.kid(x, y, subsets=1, subset_size=30)
    assert mean == pytest.approx(direct_mmd2(x, y), rel=1e-10) and std == 0
    # the mean over subsets is the mean of the per-subset direct values, drawn as torch-fidelity draws them
    rs = np.random.RandomState(7)
    vals = []
    for _ in range(4):
        a = x[rs.choice(30, 10, replace=False)]
        b = y[rs.choice(30, 10, replace=False)]
        vals.append(direct_mmd2(a, b))
    assert core.kid(x, y, subsets=4, subset_size=10, seed=7)[0] == pytest.approx(np.mean(vals), rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, _ = core.kid(a, b, subsets=20, subset_size=200)
    diff, _ = core.kid(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same) < 0.1 * diff and diff > 0.5


def test_inception_score_of_constant_and_confident_classifiers():
    k = 7
    const = torch.randn(1, k).expand(700, k)
    assert core.inception_score(const, splits=10)[0] == pytest.approx(1.0, abs=1e-9)
    confident = torch.full((700, k), -50.0)
    confident[torch.arange(700), torch.arange(700) % k] = 50.0
    mean, std = core.inception_score(confident, splits=1)
    assert mean == pytest.approx(k, rel=1e-6)
    # an uncertain classifier (uniform softmax) also scores 1
    assert core.inception_score(torch.zeros(100, k), splits=5)[0] == pytest.approx(1.0)


def test_precision_recall_basic_geometry():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(300, 4))
    p, r = core.precision_recall(real, real.copy(), k=3)
    assert p == 1.0 and r == 1.0
    p, r = core.precision_recall(real, real + 100.0, k=3)
    assert p == 0.0 and r == 0.0
    # fakes collapsed onto a few real points: precise, but they recall little of the real set
    fake = np.repeat(real[:5], 60, axis=0) + 1e-6 * rng.normal(size=(300, 4))
    p, r = core.precision_recall(real, fake, k=3)
    assert p == 1.0 and r < 0.2


# --------------------------------------------------------------------------- torch-fidelity parity (same features)


def test_scores_equal_torch_fidelity_on_the_same_features():
    tf_fid = pytest.importorskip("torch_fidelity.metric_fid")
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric

    g = torch.Generator().manual_seed(0)
    real = torch.randn(600, 32, generator=g)
    fake = torch.randn(500, 32, generator=g) * 1.1 + 0.2
    st_r, st_f = tf_fid.fid_features_to_statistics(real), tf_fid.fid_features_to_statistics(fake)
    ref = tf_fid.fid_statistics_to_metric(st_r, st_f, False)["frechet_inception_distance"]
    assert core.fid(real, fake) == pytest.approx(ref, rel=1e-5)

    kw = dict(
        kid_subsets=10,
        kid_subset_size=200,
        kid_degree=3,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=11,
        verbose=False,
    )
    ref = kid_features_to_metric(real, fake, **kw)
    mean, std = core.kid(real, fake, subsets=10, subset_size=200, seed=11)
    assert mean == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-4, abs=1e-7)
    assert std == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-3, abs=1e-7)

    logits = torch.randn(500, 10, generator=g) * 3
    ref = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=5)
    mean, std = core.inception_score(logits, splits=10, seed=5)
    assert mean == pytest.approx(ref["inception_score_mean"], rel=1e-9)
    assert std == pytest.approx(ref["inception_score_std"], rel=1e-6)

    ref = prc_features_to_metric(
        fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False
    )
    p, r = core.precision_recall(real, fake, k=3, batch=128)
    assert (p, r) == pytest.approx((ref["precision"], ref["recall"]), abs=1e-6)
