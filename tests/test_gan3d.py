"""gan3d (book ch.2): the book's nets, the paper's D gate, procedural furniture, voxel readers, meshes, metrics,
learning and resume."""

import json

import numpy as np
import pytest
import scipy.io
import torch
from conftest import crash_and_resume, gankit

from gankit import config as C
from gankit.config import DataConfig
from gankit.data import furniture
from gankit.data.voxels import load_voxels, read_binvox, write_binvox
from gankit.errors import DataError
from gankit.metrics.shapes import chamfer_distance, iou_distance, shape_metrics
from gankit.models import resolve_config
from gankit.models.gan3d import GAN3D
from gankit.train.stats import Collector

TINY = ["data.size=16", "model.g_channels=[16,8]", "model.d_channels=[8,16]", "model.latent_dim=32"]


def tiny_recipe(extra=()):
    cfg = resolve_config("gan3d", "default", None, [*TINY, "train.precision=fp32", "train.channels_last=false", *extra])
    torch.manual_seed(0)
    r = GAN3D(cfg, (1, 16, 16, 16), 6)
    r._report = Collector()
    r.gen = torch.Generator().manual_seed(0)
    return r


# ------------------------------------------------------------------------------------------- networks


@pytest.mark.parametrize(
    "book_code_bn, g_params, d_params", [(False, 17_570_625, 11_049_665), (True, 17_570_627, 11_049_795)]
)
def test_book_nets_parameter_counts(book_code_bn, g_params, d_params):
    """The spec's counts: with the book code's BN on both output layers and D's first layer, 17,570,627 / 11,049,795;
    without any of the three (the paper's nets), 17,570,625 / 11,049,665. The ``book`` preset keeps the text's BN
    on D's first layer only (tests/test_seed_fidelity.py)."""
    flags = [f"model.g_bn_out={book_code_bn}", f"model.d_bn_first={book_code_bn}", f"model.d_bn_out={book_code_bn}"]
    r = GAN3D(resolve_config("gan3d", "book", None, flags), (1, 64, 64, 64), 6)
    assert sum(p.numel() for p in r.G.parameters()) == g_params
    assert sum(p.numel() for p in r.D.parameters()) == d_params
    z = r.latent(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        r.G.eval()
        v = r.G(z)
    assert v.shape == (2, 1, 64, 64, 64) and 0 <= v.min() and v.max() <= 1


def test_g_upsample_options_and_book_presets():
    """``g_upsample=last`` makes G's last stage nearest upsample + conv 3 (no transposed conv at the output), ``all``
    every stage; the default and small/paper/book keep the book's transposed convs, as do configs saved before the
    option existed."""
    from torch import nn

    from gankit.config import to_plain
    from gankit.models import config_from_dict

    assert tiny_recipe().opts.g_upsample == "convT"
    r = tiny_recipe(["model.g_upsample=last"])
    assert isinstance(r.G.net[-2], nn.Upsample) and isinstance(r.G.net[-1], nn.Conv3d)
    with torch.no_grad():
        assert r.G(r.latent(2, torch.Generator().manual_seed(0))).shape == (2, 1, 16, 16, 16)
    r_all = tiny_recipe(["model.g_upsample=all"])
    assert not any(isinstance(m, nn.ConvTranspose3d) for m in r_all.G.net[1:])
    for preset in ("default", "small", "paper", "book"):
        assert resolve_config("gan3d", preset).model.g_upsample == "convT", preset
    raw = to_plain(resolve_config("gan3d", "default"))
    del raw["model"]["g_upsample"]
    assert config_from_dict(raw).model.g_upsample == "convT"


def test_resolution_mismatch_is_a_config_error():
    with pytest.raises(C.ConfigError, match="model.g_channels"):
        resolve_config("gan3d", "small", None, ["data.size=64"])


@pytest.mark.parametrize("threshold, updated", [(0.4, False), (0.6, True)])
def test_d_accuracy_gate_skips_d_updates_above_threshold(threshold, updated):
    """A D that calls everything real has accuracy 0.5: the paper's rule skips its update when the threshold is
    0.4 and makes it when it is 0.6; G is updated either way."""
    r = tiny_recipe(["model.d_policy=acc_threshold", f"model.d_acc_threshold={threshold}"])
    with torch.no_grad():
        r.D.net[-1].bias.fill_(1e3)  # every logit hugely positive: acc_real 1, acc_fake 0
    d0 = {k: v.clone() for k, v in r.D.state_dict().items()}
    g0 = {k: v.clone() for k, v in r.G.state_dict().items()}
    real = load_voxels(DataConfig(name="voxel-furniture", size=16, limit=8)).voxels().float()
    r.train_step({"voxels": real})
    stats = r._report.flush()
    assert stats["D/acc_real"] == 1.0 and stats["D/acc_fake"] == 0.0
    assert stats["D/updated"] == float(updated)
    d_changed = any(
        not torch.equal(d0[k], v) for k, v in r.D.state_dict().items() if "running" not in k and "num_batches" not in k
    )
    assert d_changed == updated
    assert any(not torch.equal(g0[k], v) for k, v in r.G.state_dict().items())


def test_every_n_policy_and_conditional_nets():
    r = tiny_recipe(["model.d_policy=every_n", "model.d_every=2", "model.conditional=true"])
    assert r.conditional and r.G.embed is not None and r.D.num_classes == 6
    data = load_voxels(DataConfig(name="voxel-furniture", size=16, limit=12))
    for step in range(4):
        r.step = step
        r.train_step(data.batch(torch.arange(step * 3, step * 3 + 3)))
        assert r._report.flush()["D/updated"] == float(step % 2 == 0)
    z = r.latent(2, torch.Generator().manual_seed(0)).repeat(2, 1)
    v = r.sample(r.G, z, torch.tensor([0, 0, 5, 5]))
    assert v.shape == (4, 1, 16, 16, 16) and not torch.equal(v[0], v[2])  # the class changes the shape
    with pytest.raises(C.ConfigError, match="conditional"):
        GAN3D(resolve_config("gan3d", "default", None, [*TINY, "model.conditional=true"]), (1, 16, 16, 16), 1)


# ------------------------------------------------------------------------------------------- data


def test_furniture_is_deterministic_and_prefix_stable():
    a, la = furniture.generate(30, 16, seed=0)
    b, lb = furniture.generate(30, 16, seed=0)
    c, _ = furniture.generate(12, 16, seed=0)
    d, _ = furniture.generate(12, 16, seed=0, split="test")
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert np.array_equal(a[:12], c)  # shape i does not depend on how many are asked for
    assert not np.array_equal(c, d)  # the held-out split is a different stream
    assert la.tolist() == [i % 6 for i in range(30)]
    occ = a.reshape(30, -1).mean(1)
    assert occ.min() > 0.005 and occ.max() < 0.5  # no empty or solid shapes


def test_furniture_classes_are_told_apart_by_a_trivial_classifier():
    """1-nearest-neighbour on IoU, held-out split vs 300 training shapes: far above chance (1/6) for every class."""
    tr, lt = furniture.generate(300, 16, split="train")
    te, ltt = furniture.generate(120, 16, split="test")
    pred = lt[iou_distance(torch.from_numpy(te), torch.from_numpy(tr)).argmin(1).numpy()]
    per_class = [(pred == ltt)[ltt == c].mean() for c in range(6)]
    assert (pred == ltt).mean() > 0.9 and min(per_class) > 0.7, per_class


def test_dataset_surface_and_class_subset():
    s = load_voxels(DataConfig(name="voxel-furniture:chair,lamp", size=16, limit=10))
    assert len(s) == 10 and s.shape == (1, 16, 16, 16) and s.classes == ["chair", "lamp"]
    b = s.batch(torch.tensor([0, 1, 3]))
    assert b["voxels"].shape == (3, 1, 16, 16, 16) and b["voxels"].dtype == torch.float32
    assert set(b["voxels"].unique().tolist()) == {0.0, 1.0} and b["label"].tolist() == [0, 1, 1]
    assert s.tag() == "voxel-furniture16" and len(s.fingerprint()) == 16
    with pytest.raises(DataError, match="no class 'stool'"):
        load_voxels(DataConfig(name="voxel-furniture:stool"))


def test_readers_on_written_fixtures(tmp_path):
    vols, labels = furniture.generate(6, 30)
    root = tmp_path / "volumetric_data"
    for i, v in enumerate(vols):  # the 3D ShapeNets layout: <class>/30/{train,test}/*.mat, key 'instance'
        d = root / ("chair" if i % 2 else "table") / "30" / ("train" if i < 4 else "test")
        d.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(d / f"{i}.mat", {"instance": v.astype(np.uint8)})
    s = load_voxels(DataConfig(name=f"shapenet:{root}"))
    assert len(s) == 4 and s.classes == ["chair", "table"] and s.shape == (1, 32, 32, 32)
    x = s.voxels()[s.labels.tolist().index(1), 0].numpy()  # the first table, 30^3 padded by one voxel a side
    assert np.array_equal(x[1:-1, 1:-1, 1:-1], vols[0]) and x[0].sum() == 0 and x[-1].sum() == 0
    s64 = load_voxels(DataConfig(name=f"shapenet:{root}", size=64, split="test"))
    assert len(s64) == 2 and int(s64.voxels().sum()) == 8 * int(vols[4:].sum())  # x2 nearest: 8 voxels per voxel

    v = vols[1].copy()
    write_binvox(tmp_path / "a.binvox", v)
    assert np.array_equal(read_binvox(tmp_path / "a.binvox"), v)
    np.savez(
        tmp_path / "stack.npz",
        voxels=vols[:, None].astype(np.uint8),
        labels=labels,
        classes=np.array(furniture.CLASSES),
    )
    s = load_voxels(DataConfig(name=str(tmp_path / "stack.npz"), size=32))
    assert len(s) == 6 and s.classes == list(furniture.CLASSES) and s.labels.tolist() == labels.tolist()


def test_meshes_are_voxelised_solid_and_turned_z_up(tmp_path):
    """A y-up box mesh 1 x 2 x 3 (x, y, z) becomes a filled grid 1 x 3 x 2 (z up), scaled so its longest side spans
    res - 2 voxels; `gankit data prepare --voxelize` writes the same grids into one .npz stack."""
    import trimesh

    (tmp_path / "m" / "boxes").mkdir(parents=True)
    trimesh.creation.box(extents=(1, 2, 3)).export(tmp_path / "m" / "boxes" / "box.obj")
    v = load_voxels(DataConfig(name=f"voxels:{tmp_path / 'm'}", size=32)).voxels()[0, 0].numpy()
    ext = [np.flatnonzero(v.any(axis=tuple(j for j in range(3) if j != i))).size for i in range(3)]
    assert abs(ext[0] - 10) <= 2 and abs(ext[1] - 30) <= 2 and abs(ext[2] - 20) <= 2, ext
    assert v.sum() > 0.8 * ext[0] * ext[1] * ext[2]  # filled, not a shell
    assert v[:, :, 0].any()  # standing on the floor
    gankit("data", "prepare", tmp_path / "m", "--voxelize", "--size", "32", "--out", tmp_path / "s.npz")
    s = load_voxels(DataConfig(name=str(tmp_path / "s.npz")))
    assert s.classes == ["boxes"] and np.array_equal(s.voxels()[0, 0].numpy(), v)


@pytest.mark.parametrize("kind", ["binvox", "mat", "npy", "npy-shape", "npz-labels"])
def test_truncated_or_wrong_shaped_files_are_one_line_errors(tmp_path, kind):
    v = furniture.generate(2, 16)[0]
    if kind == "binvox":
        write_binvox(tmp_path / "x.binvox", v[0])
        path = tmp_path / "x.binvox"
        path.write_bytes(path.read_bytes()[:-6])
    elif kind == "mat":
        path = tmp_path / "x.mat"
        scipy.io.savemat(path, {"instance": v[0].astype(np.uint8)})
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "npy":
        path = tmp_path / "x.npy"
        np.save(path, v)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "npy-shape":
        path = tmp_path / "x.npy"
        np.save(path, np.zeros((4, 5)))
    else:
        path = tmp_path / "x.npz"
        np.savez(path, voxels=v, labels=np.zeros(5))
    with pytest.raises(DataError) as e:
        load_voxels(DataConfig(name=str(path)))
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    if kind == "binvox":  # the CLI: one line on stderr, exit code 2
        p = gankit("data", "check", path, check=False)
        assert p.returncode == 2 and p.stderr.startswith("error: ") and str(path) in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


def test_data_check_reports_a_voxel_set():
    card = json.loads(gankit("data", "check", "voxel-furniture", "--size", "16").stdout)
    assert card["n"] == 4800 and card["shape"] == [1, 16, 16, 16]
    assert card["classes"] == {c: 800 for c in furniture.CLASSES}
    assert sum(b["count"] for b in card["occupancy"]["histogram"]) == 4800 and card["empty_shapes"] == 0


# ------------------------------------------------------------------------------------------- meshes, pictures


def test_meshes_are_watertight_where_the_voxels_are_one_solid():
    from scipy import ndimage

    from gankit.data.meshes import voxels_to_mesh

    vols, _ = furniture.generate(24, 32)
    solid = [v for v in vols if ndimage.label(v)[1] == 1]
    assert len(solid) >= 12
    for v in solid:
        m = voxels_to_mesh(v.astype(np.float32))
        assert m.is_watertight and m.is_volume
        assert abs(m.volume * 32**3 - v.sum()) < 0.25 * v.sum()  # encloses about the occupied volume
    assert voxels_to_mesh(np.zeros((8, 8, 8))) is None


def test_fragment_share_flags_floating_specks_and_keep_largest_drops_them():
    """One solid shape has fragment share 0; a floating 2^3 speck and scattered dust raise it. Meshes keep every
    part unless asked (``keep_largest`` off by default, as `gankit voxels --keep-largest`); with it, one watertight
    part of the shape's volume is left."""
    from scipy import ndimage

    from gankit.data.meshes import fragment_share, largest_part, voxels_to_mesh

    vols, _ = furniture.generate(12, 32)
    v = next(x for x in vols if ndimage.label(x)[1] == 1).astype(np.float32)
    assert fragment_share(v) == 0.0 and fragment_share(np.zeros((8, 8, 8))) == 0.0
    specked = v.copy()
    free = np.argwhere(ndimage.binary_dilation(v > 0, iterations=3) == 0)
    x, y, z = free[len(free) // 2]
    specked[x : x + 2, y : y + 2, z : z + 2] = 1.0
    assert specked.sum() == v.sum() + 8 and abs(fragment_share(specked) - 8 / specked.sum()) < 1e-9
    dust = v.copy()
    rng = np.random.default_rng(0)
    pick = free[rng.choice(len(free), 300, replace=False)]
    dust[tuple(pick.T)] = 1.0
    assert fragment_share(dust) > 0.1 > fragment_share(specked) > 0
    assert np.array_equal(largest_part(specked > 0.5), v > 0.5)

    assert len(voxels_to_mesh(specked).split(only_watertight=False)) == 2  # off by default: the speck stays
    m = voxels_to_mesh(specked, keep_largest=True)
    assert len(m.split(only_watertight=False)) == 1 and m.is_watertight
    assert abs(m.volume * 32**3 - v.sum()) < 0.25 * v.sum()


def test_render_draws_shaded_shapes_on_white():
    from gankit.viz.voxels import render

    vols = torch.from_numpy(furniture.generate(3, 16)[0]).float()[:, None]
    img = render(torch.cat([vols, torch.zeros(1, 1, 16, 16, 16)]), size=32)
    assert img.shape == (4, 3, 32, 32) and img.min() >= -1 and img.max() <= 1
    ink = (img < 0.95).any(1).float().mean((1, 2))
    assert (ink[:3] > 0.03).all() and ink[3] == 0  # shapes drawn, the empty grid is blank
    shades = img[0][:, (img[0] < 0.95).any(0)]
    assert shades.std(1).min() > 0.02  # shaded, not a flat silhouette


# ------------------------------------------------------------------------------------------- metrics


def test_shape_metrics_on_known_sets():
    a = torch.from_numpy(furniture.generate(12, 16)[0]).float()
    b = torch.from_numpy(furniture.generate(12, 16, split="test")[0]).float()
    same = shape_metrics(iou_distance(a, a), iou_distance(a, a), iou_distance(a, a))
    assert same["cov"] == 1.0 and same["mmd"] == 0.0
    blobs = torch.ones_like(a)  # a generator of solid cubes: covers one shape, far from all, told apart always
    m = shape_metrics(iou_distance(blobs, blobs), iou_distance(b, b), iou_distance(blobs, b))
    assert m["cov"] == 1 / 12 and m["mmd"] > 0.8 and m["1nna"] == 1.0
    p = torch.rand(3, 50, 3, generator=torch.Generator().manual_seed(0))
    cd = chamfer_distance(p, p + torch.tensor([0.0, 0.0, 2.0]))  # every nearest point at least 1 away, both ways
    assert cd.min() >= 2.0
    assert torch.allclose(chamfer_distance(p, p).diagonal(), torch.zeros(3), atol=1e-6)


# ------------------------------------------------------------------------------------------- training


COMMON = [
    "--no-progress",
    "train.threads=1",
    "train.batch_size=16",
    "data.limit=192",
    "train.sample_every=1000",
    "train.report_every_epochs=none",
    *TINY,
]


@pytest.mark.slow
def test_short_training_improves_mmd_and_exports(tmp_path):
    """120 steps of tiny nets at 16^3: MMD-IoU against held-out shapes drops well below the untrained G's (0.91 ->
    about 0.7 when this was written); then
    `gankit voxels` writes meshes, a grid and a turntable."""
    from gankit import api

    gankit("train", "gan3d", "--steps", "120", "train.ckpt_every=120", "train.log_every=40", "--out", tmp_path, *COMMON)
    (run,) = tmp_path.iterdir()
    ref = load_voxels(DataConfig(name="voxel-furniture", size=16, split="test", limit=96)).voxels().float()
    gen = api.load(run, ema=False)
    trained = (gen.sample(96, seed=1) >= 0.5).float()
    r = tiny_recipe()  # the same initial weights (train.seed 0) as the run started from
    untrained = (r.sample(r.G, r.latent(96, torch.Generator().manual_seed(1))) >= 0.5).float()
    score = lambda g: shape_metrics(iou_distance(g, g), iou_distance(ref, ref), iou_distance(g, ref))  # noqa: E731
    before, after = score(untrained), score(trained)
    assert after["mmd"] < before["mmd"] - 0.1 and after["cov"] > before["cov"], (before, after)

    out = tmp_path / "export"
    gankit("voxels", run, "-n", "4", "--seed", "3", "--export", "obj", "--out", out, "--turntable")
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["shapes"]) == 4 and (out / "grid.png").exists() and (out / "turntable.gif").exists()
    for s in summary["shapes"]:
        if s.get("file"):
            assert (out / s["file"]).stat().st_size > 0 and (s["watertight"] or s["parts"] > 1)
    gankit("sample", run, "-n", "4", "--out", tmp_path / "s.png")  # `gankit sample` draws voxels as renders
    from PIL import Image

    assert Image.open(tmp_path / "s.png").mode == "RGB"
    p = gankit("voxels", run, "--export", "fbx", check=False)
    assert p.returncode == 2 and "--export" in p.stderr


def test_resume_is_bitwise_identical(tmp_path):
    n = 6
    args = [
        "train",
        "gan3d",
        "--steps",
        str(n),
        "train.ckpt_every=3",
        "train.log_every=3",
        "model.d_policy=acc_threshold",
        "train.precision=bf16",
        "train.channels_last=true",
        *COMMON,
    ]
    a, b, full, run = crash_and_resume(args, tmp_path, n)
    assert [k for k in a if k.startswith(("net.", "optim."))] and set(a) == set(b)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
