"""Age-cGAN: age arithmetic and bins, data records that must drop, emoji age groups, the encoder, stage-3 latent
optimisation, bitwise resume, and the CLI's no-face error."""

import dataclasses
import json
from datetime import date

import numpy as np
import pytest
import torch
from conftest import crash_and_resume, gankit, gankit_killed
from PIL import Image

from gankit.config import DataConfig
from gankit.data.ages import age_bin, classify_person, datenum_to_age, load_ages, read_wiki_mat
from gankit.models import resolve_config
from gankit.models.agecgan import AgeCGAN
from gankit.nn.identity import EmojiIdentityNet
from gankit.pipelines.age import AgePipeline, EmojiEmbedder

TINY = [
    "model.g_dense=32",
    "model.g_channels=[16,8]",
    "model.d_channels=[8,16]",
    "model.e_channels=[8,16]",
    "model.e_dense=32",
    "data.size=16",
]


def matlab_datenum(d: date) -> int:
    return d.toordinal() + 366


def test_datenum_to_age_known_dates():
    assert matlab_datenum(date(2000, 1, 1)) == 730486  # Matlab: datenum(2000,1,1)
    assert datenum_to_age(730486, 2010) == 10  # born in January: birthday before mid-year
    assert datenum_to_age(matlab_datenum(date(2000, 6, 30)), 2010) == 10  # month 6 < 7
    assert datenum_to_age(matlab_datenum(date(2000, 7, 1)), 2010) == 9  # month 7: not yet
    assert datenum_to_age(matlab_datenum(date(1950, 12, 31)) + 0.75, 2009) == 58  # fractional datenums truncate
    assert datenum_to_age(0, 2009) == 2008  # datenum 0 clamps to 1 Jan 0001 (then filtered as >= 100)


def test_age_bin_edges():
    edges = {1: 0, 18: 0, 19: 1, 29: 1, 30: 2, 39: 2, 40: 3, 49: 3, 50: 4, 59: 4, 60: 5, 99: 5}
    assert {a: age_bin(a) for a in edges} == edges
    for bad in (0, -3):
        with pytest.raises(ValueError):
            age_bin(bad)


def _wiki(tmp_path):
    """A wiki_crop folder: 2 good records, one without its file, age 0, face_score -inf, an undecodable JPEG."""
    from scipy.io import savemat

    root = tmp_path / "wiki_crop"
    (root / "00").mkdir(parents=True)
    colours = {"00/a.jpg": (255, 0, 0), "00/b.jpg": (0, 0, 255)}
    for rel, c in colours.items():
        Image.new("RGB", (40, 30), c).save(root / rel)
    (root / "00" / "bad.jpg").write_bytes(b"not a jpeg")
    (root / "00" / "young.jpg").write_bytes((root / "00/a.jpg").read_bytes())
    (root / "00" / "noface.jpg").write_bytes((root / "00/a.jpg").read_bytes())
    recs = [
        ("00/a.jpg", date(1980, 3, 1), 2005, 1.5),  # 25 -> bin 1
        ("00/missing.jpg", date(1980, 3, 1), 2005, 2.0),
        ("00/b.jpg", date(1940, 9, 1), 2005, 3.0),  # 64 -> bin 5
        ("00/young.jpg", date(2005, 3, 1), 2005, 2.0),  # age 0
        ("00/noface.jpg", date(1980, 3, 1), 2005, -np.inf),
        ("00/bad.jpg", date(1970, 1, 1), 2005, 2.0),
    ]
    fp = np.empty(len(recs), dtype=object)
    fp[:] = [np.array([r[0]]) for r in recs]
    savemat(
        root / "wiki.mat",
        {
            "wiki": {
                "full_path": fp[None],
                "dob": np.array([[matlab_datenum(r[1]) for r in recs]], float),
                "photo_taken": np.array([[r[2] for r in recs]]),
                "face_score": np.array([[r[3] for r in recs]]),
            }
        },
    )
    return root


def test_wiki_records_skip_and_a_dropped_image_drops_its_label(tmp_path):
    root = _wiki(tmp_path)
    paths, ages, reasons = read_wiki_mat(root)
    assert [p.name for p in paths] == ["a.jpg", "b.jpg", "bad.jpg"] and ages == [25, 64, 35]
    assert reasons == {"no_image": 1, "age_out_of_range": 1, "no_face": 1}
    s = load_ages(DataConfig(name=f"wiki:{root}", size=8), balance=False)
    both = [s, s.test]
    keys = sum((x.keys for x in both), [])
    labels = torch.cat([x.labels for x in both]).tolist()
    red = torch.cat([x.images[:, 0, 4, 4] for x in both]).tolist()
    assert sorted(keys) == ["00/a.jpg", "00/b.jpg"]  # bad.jpg failed to decode: image and label both gone
    assert s.skip_reasons["unreadable"] == 1 and s.skipped == 4
    by_key = {k: (l, r) for k, l, r in zip(keys, labels, red)}
    assert by_key["00/a.jpg"][0] == 1 and by_key["00/a.jpg"][1] > 200  # red image, 25 years
    assert by_key["00/b.jpg"][0] == 5 and by_key["00/b.jpg"][1] < 50  # blue image, 64 years


def test_emoji_age_groups_from_names():
    girl, old_woman = classify_person("1f467"), classify_person("1f475-1f3fe")
    assert (girl.age, girl.gender, girl.role, girl.tone) == (0, "female", "", "default")
    assert (old_woman.age, old_woman.gender, old_woman.tone) == (2, "female", "medium-dark")
    nurse = classify_person("1f469-1f3fd-200d-2695-fe0f")
    assert (nurse.age, nurse.role, nurse.gender, nurse.tone) == (1, "health worker", "female", "medium")
    assert classify_person("1f469-200d-1f469-200d-1f466") is None  # a family: more than one person
    assert classify_person("1f37c") is None  # baby bottle
    assert girl.identity == "plain|default|female" and classify_person("1f469").identity == girl.identity


def _recipe(stage, *extra):
    cfg = resolve_config("agecgan", "default", None, [*TINY, f"model.stage={stage}", "model.identity=none", *extra])
    r = AgeCGAN(cfg, (3, 16, 16), 3)
    r.gen = torch.Generator().manual_seed(0)
    return r


def test_encoder_inverts_g_better_than_a_random_latent():
    torch.manual_seed(0)
    r = _recipe("encoder", "model.e_rec_weight=0", "model.latent_dim=16")
    x = torch.rand(32, 3, 16, 16) * 2 - 1
    batch = {"image": x, "label": torch.arange(32) % 3, "identity": torch.full((32,), -1)}
    for _ in range(150):
        r.train_step(batch)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(64, 16, generator=g)
    y = torch.arange(64) % 3
    m = AgePipeline(r.G, r.E, 3, r.opts, None)
    target = m.reage(z, y)
    inverted = m.reage(m.encode(target), y)
    random = m.reage(torch.randn(64, 16, generator=g), y)
    err_e, err_rand = (inverted - target).abs().mean(), (random - target).abs().mean()
    assert err_e < 0.5 * err_rand, (err_e, err_rand)
    assert (m.encode(target) - z).norm(dim=1).mean() < 0.7 * (torch.randn(64, 16, generator=g) - z).norm(dim=1).mean()


def test_latent_optimisation_lowers_the_identity_distance_it_optimises():
    torch.manual_seed(0)
    r = _recipe("encoder", "model.latent_dim=16")
    F = EmojiIdentityNet(3, 4, 16).eval().requires_grad_(False)
    m = AgePipeline(r.G.eval(), r.E.eval(), 3, r.opts, EmojiEmbedder(F))
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    y0 = torch.tensor([0, 1, 2, 1])
    z0 = m.encode(x)
    dist = lambda z: (F(m.reage(z, y0)) - F(x)).norm(dim=1)  # noqa: E731
    z, trace = m.optimise(x, y0, z0, steps=40, lr=0.1, identity_weight=1.0, pixel_weight=0.0)
    assert trace[-1] < 0.85 * trace[0] and trace[-1] == pytest.approx(float(dist(z).mean()), rel=1e-4)
    assert (dist(z) < dist(z0)).all()
    assert torch.equal(z0, m.encode(x))  # E untouched; G's weights were frozen and restored
    assert not any(p.requires_grad for p in r.G.parameters())  # stage 2's frozen G stays frozen


N = 4
COMMON = [
    "--steps",
    str(N),
    "--no-progress",
    "train.ckpt_every=2",
    "train.log_every=1",
    "train.sample_every=100",
    "data.limit=30",
    "train.batch_size=8",
    "train.threads=1",
    *TINY,
]


def test_resume_is_bitwise_identical(tmp_path):
    args = ["train", "agecgan", *COMMON]
    a, b, full, run = crash_and_resume(args, tmp_path, N)
    assert [k for k in a if k.startswith("net.D")] and set(a) == set(b)
    assert [k for k in a if not (a[k].shape == b[k].shape and (a[k] == b[k]).all())] == []


def test_cli_no_face_is_a_clear_error(tmp_path):
    """A photo model (UTKFace-named folder) crops the face first: a picture with none exits 2 with one line;
    --no-detect ages the whole picture."""
    from gankit import api

    utk = tmp_path / "utk"
    utk.mkdir()
    rng = np.random.default_rng(0)
    for i, a in enumerate([5, 12, 25, 33, 45, 52, 65, 80] * 3):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(utk / f"{a}_0_0_{i}.jpg")
    s1 = api.train(
        "agecgan",
        "default",
        [*TINY, f"data.name=utkface:{utk}", "train.steps=2", "train.batch_size=8", "train.threads=1"],
        out=tmp_path / "s1",
    )
    s2 = api.train(
        "agecgan",
        "encoder",
        [
            *TINY,
            f"data.name=utkface:{utk}",
            "train.steps=2",
            "train.batch_size=8",
            "train.threads=1",
            f"model.init_from={s1}",
            "model.identity=none",
        ],
        out=tmp_path / "s2",
    )
    flat = tmp_path / "wall.png"
    Image.new("L", (90, 60), 128).save(flat)  # greyscale, not square, no face
    r = gankit("age", s2, flat, "--out", tmp_path / "o", "--steps", "0", check=False)
    assert r.returncode == 2 and "no face found" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "wall-ages.png").exists()
    r = gankit("age", s2, flat, "--out", tmp_path / "o", "--steps", "0", "--no-detect", "--all")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["columns"] == ["input", "0-18", "19-29", "30-39", "40-49", "50-59", "60+"]
    strip = Image.open(tmp_path / "o" / "wall-ages.png")
    assert strip.width > 6 * strip.height and len(info["files"]) == 7


def test_book_nets_match_the_book_parameter_counts():
    """The book's Keras nets (spec B3): G 34,852,099, D 1,567,873, E 18,278,180 trainable parameters."""
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    g = AgeCGAN(resolve_config("agecgan", "book", None, []), (3, 64, 64), 6)
    e = AgeCGAN(resolve_config("agecgan", "book-encoder", None, ["model.identity=none"]), (3, 64, 64), 6)
    assert (n(g.G), n(g.D), n(e.E)) == (34_852_099, 1_567_873, 18_278_180)
    y = torch.eye(6)[[0, 5]]
    assert g.G.eval()(torch.randn(2, 100), y).shape == (2, 3, 64, 64) and g.D(torch.randn(2, 3, 64, 64), y).shape == (
        2,
    )


def test_encoder_stage_resume_is_bitwise_identical(tmp_path):
    """Stage 2 (encoder + identity embedder, from a stage-1 run) killed half way and resumed == uninterrupted; the
    resume needs nothing from the stage-1 run (its G is in the checkpoint)."""
    import shutil

    from gankit import api

    s1 = api.train(
        "agecgan",
        overrides=[
            *TINY,
            "train.steps=2",
            "train.batch_size=8",
            "data.limit=30",
            "train.threads=1",
            "train.sample_every=100",
        ],
        out=tmp_path / "s1",
    )
    copy = tmp_path / "s1-copy"
    shutil.copytree(s1, copy)
    args = ["train", "agecgan", "--preset", "encoder", *COMMON, f"model.init_from={copy}"]
    gankit(*args, "--out", tmp_path / "full")
    gankit_killed(*args, "--out", tmp_path / "part", at_step=2)  # SIGKILL after the step-2 save
    shutil.rmtree(copy)
    (run,) = (tmp_path / "part").iterdir()
    gankit("train", "--resume", run, "--no-progress")
    (full,) = (tmp_path / "full").iterdir()
    from safetensors.torch import load_file

    a, b = (load_file(str(d / "checkpoints" / f"step-{N:07d}" / "tensors.safetensors")) for d in (full, run))
    assert [k for k in a if k.startswith("net.E")] and set(a) == set(b)
    assert [k for k in a if not (a[k].shape == b[k].shape and (a[k] == b[k]).all())] == []
    half = load_file(str(full / "checkpoints" / "step-0000002" / "tensors.safetensors"))
    assert any(not torch.equal(half[k], a[k]) for k in a if k.startswith("net.E"))  # E trained after the kill point


@pytest.fixture(scope="module")
def people():
    return load_ages(DataConfig(name="emoji-people", size=32))


def _twemoji(*codes):
    from gankit.data.images import resize_batch, to_float
    from gankit.data.pairs import render_emoji_pairs

    tw, _ = render_emoji_pairs(list(codes))
    return to_float(resize_batch(tw, 32))


def test_speckle_ratio_flags_coloured_noise_on_real_faces(people):
    """High-frequency energy of outputs over real faces: held-out real faces score about 1, the same faces with
    coloured pixel noise (std 0.1, about what the old default's strip shows) far above, a blurred copy far below."""
    from gankit.data.images import to_float
    from gankit.metrics.task import speckle_ratio

    real, held = to_float(people.images), to_float(people.test.images)
    noisy = (held + 0.1 * torch.randn(held.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    chroma = lambda x: x - x.mean(1, keepdim=True)  # noqa: E731
    blurred = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(held, 2), scale_factor=2, mode="bilinear")
    assert 0.5 < speckle_ratio(held, real) < 1.5 and 0.4 < speckle_ratio(chroma(held), chroma(real)) < 1.5
    assert speckle_ratio(chroma(noisy), chroma(real)) > 4 * speckle_ratio(chroma(held), chroma(real))
    assert speckle_ratio(noisy, real) > 1.3 * speckle_ratio(held, real) and speckle_ratio(blurred, real) < 0.5


def test_input_check_warns_for_an_apple_and_a_cat_not_for_a_face(people):
    """The stage-2 input check, calibrated as training does (bank: the training faces; threshold: the held-out
    faces' distances): the Twemoji apple and cat are far, held-out faces are not; the pipeline warns (not raises)
    for the far input only."""
    import warnings

    from gankit.data.images import to_float
    from gankit.nn.agecgan import InputCheck
    from gankit.pipelines.age import FarInputWarning

    cfg = resolve_config(
        "agecgan", "encoder", None, [*TINY, "data.size=32", "model.identity=none", "model.ood_bank=288"]
    )
    r = AgeCGAN(cfg, (3, 32, 32), 3)
    assert isinstance(r.E.check, InputCheck) and r.E.check.bank.shape == (288, 3 * 16 * 16)
    r.calibrate_check(people)
    held = to_float(people.test.images)
    apple_cat = _twemoji("1f34e", "1f431")
    m = AgePipeline(r.G.eval(), r.E.eval(), 3, r.opts, None)
    assert m.far_inputs(held) == [] and [i for i, _, _ in m.far_inputs(apple_cat)] == [0, 1]
    assert float(r.E.check.distance(to_float(people.images[:5])).max()) < 1e-3  # a training face is in the bank
    x = torch.cat([held[:1], apple_cat[:1]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.latents(x, torch.tensor([1, 1]), steps=0)
    msgs = [str(w.message) for w in caught if issubclass(w.category, FarInputWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("warning: input 1 is far from the faces") and "\n" not in msgs[0]


def test_old_encoder_checkpoints_have_no_input_check():
    """A stage-2 config saved before the check existed builds E without it (its saved tensors still load), and the
    pipeline then checks nothing."""
    from gankit.config import from_dict

    cfg = resolve_config("agecgan", "default", None, [*TINY, "model.stage=encoder", "model.identity=none"])
    d = dataclasses.asdict(cfg)
    for k in ("ood_check", "ood_margin", "ood_bank", "diffaug", "r1", "mode_seeking"):
        del d["model"][k]
    old = from_dict(d, AgeCGAN, record=True)
    assert not old.model.ood_check and old.model.r1 == 0 and old.model.diffaug == "" and old.model.mode_seeking == 0
    r = AgeCGAN(old, (3, 16, 16), 3)
    assert not hasattr(r.E, "check")
    assert AgePipeline(r.G, r.E, 3, r.opts, None).far_inputs(torch.zeros(1, 3, 16, 16)) == []


def test_stage1_regularisers_run_and_report():
    """DiffAugment, R1 and mode seeking (stage-1 options): a few stage-1 steps report the R1 term and the
    mode-seeking ratio, and every weight stays finite."""
    torch.manual_seed(0)
    r = _recipe("gan", "model.diffaug=translation,cutout", "model.r1=1", "model.mode_seeking=0.1")
    logged = {}
    r._report = lambda k, v: logged.setdefault(k, []).append(float(v))
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    for _ in range(3):
        r.train_step({"image": x, "label": torch.arange(8) % 3})
    assert len(logged["loss/D_r1"]) == 3 and all(v > 0 for v in logged["loss/D_r1"] + logged["loss/G_ms_ratio"])
    assert all(torch.isfinite(p).all() for n in ("G", "D") for p in getattr(r, n).parameters())
