import pytest

from gankit import config as C
from gankit.errors import ConfigError
from gankit.models import config_from_dict, resolve_config


def test_presets_listed_and_resolve():
    rows = C.list_presets()
    names = {(r, p) for r, p, _ in rows}
    for recipe in ("mlp-gan", "dcgan", "lsgan"):
        assert (recipe, "tutorial") in names and (recipe, "default") in names
        cfg = resolve_config(recipe, "tutorial")
        assert cfg.recipe == recipe and cfg.preset == "tutorial"


def test_dotted_overrides_are_typed():
    cfg = resolve_config(
        "dcgan",
        "default",
        overrides=[
            "train.lr=1e-4",
            "data.size=64",
            "model.g_channels=[64,64,64,64]",
            "train.ema=0",
            "model.d_split_steps=true",
        ],
    )
    assert cfg.train.lr == pytest.approx(1e-4) and isinstance(cfg.train.lr, float)
    assert cfg.data.size == 64 and cfg.model.g_channels == [64, 64, 64, 64]
    assert cfg.train.ema == 0.0 and cfg.model.d_split_steps is True


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.lr=abc", "train.lr"),
        ("train.foo=1", "train.foo"),
        ("model.nope=3", "model.nope"),
        ("train.precision=fp64", "train.precision"),
        ("data.size=3.5", "data.size"),
        ("train.steps=true", "train.steps"),
    ],
)
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(ConfigError) as e:
        resolve_config("mlp-gan", "default", overrides=[override])
    assert key in str(e.value) and "\n" not in str(e.value)


def test_unknown_recipe_and_preset():
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        resolve_config("nope")
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve_config("dcgan", "fancy")


def test_impossible_size_is_rejected():
    with pytest.raises(ConfigError, match="not a multiple"):
        resolve_config("dcgan", "tutorial", overrides=["data.size=28"])


def test_dump_round_trips(tmp_path):
    cfg = resolve_config("lsgan", "tutorial", overrides=["train.steps=7"])
    f = tmp_path / "c.yaml"
    f.write_text(C.dump(cfg))
    again = config_from_dict(C.read_yaml(f))
    assert again == cfg


def test_user_config_file_merges(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("train: {batch_size: 16}\nmodel: {latent_dim: 32}\n")
    cfg = resolve_config("mlp-gan", "default", config_file=f, overrides=["train.batch_size=8"])
    assert cfg.train.batch_size == 8 and cfg.model.latent_dim == 32
    f.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        resolve_config("mlp-gan", "default", config_file=f)


def test_config_knows_no_family():
    """config takes the recipe class (its Options and validate); the name -> class hop is gankit.models'."""
    from gankit.models.dcgan import DCGAN
    from gankit.models.mlp_gan import MLPGAN

    cfg = C.resolve(DCGAN, "tutorial", overrides=["train.steps=3"])
    assert cfg == resolve_config("dcgan", "tutorial", overrides=["train.steps=3"])
    assert isinstance(cfg.model, DCGAN.Options)
    with pytest.raises(ConfigError, match="recipe 'dcgan' given to the mlp-gan options"):
        C.from_dict(C.to_plain(cfg), MLPGAN)
    with pytest.raises(ConfigError, match="missing 'recipe'"):
        config_from_dict({"preset": "default"})
