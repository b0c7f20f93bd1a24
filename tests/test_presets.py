"""Presets as a base plus their differences: a family's Options defaults are its `default` preset, every other preset
names its `base:` and holds only the keys that differ from it, and `gankit presets RECIPE --diff PRESET` says what
each one changes."""

import ast
import dataclasses
import inspect
import textwrap

import pytest

from gankit import config as C
from gankit.cli import main
from gankit.errors import ConfigError
from gankit.models import RECIPES, config_from_dict, resolve_config
from gankit.models.dcgan import DCGAN

PRESETS = [(r, p) for r, p, _ in C.list_presets()]


@pytest.mark.parametrize("recipe, preset", PRESETS)
def test_no_preset_restates_its_base(recipe, preset):
    """Every key a preset file sets changes what its base resolves to (for `default`: the dataclass defaults, so its
    data and train keys differ from DataConfig's and TrainConfig's, and it sets no model key: the Options are it)."""
    (own, *_) = C.preset_layers(RECIPES[recipe], preset)
    assert own.restated == [], (
        f"{recipe}.{preset} restates its base {own.base or '(dataclass defaults)'}: {own.restated}"
    )
    assert own.changes, f"{recipe}.{preset} changes nothing"
    if preset == "default":
        assert "model" not in C.read_preset(recipe, preset)


@pytest.mark.parametrize("recipe, preset", PRESETS)
def test_every_base_is_a_preset_of_the_recipe(recipe, preset):
    chain = [name for name, _ in C.preset_chain(recipe, preset)]  # raises on an unknown base or a cycle
    assert chain[0] == "default" and chain[-1] == preset and len(set(chain)) == len(chain)
    assert all((recipe, name) in PRESETS for name in chain)
    assert ("base" in C.read_preset(recipe, preset)) == (preset != "default")


def test_options_subclasses_redeclare_no_field():
    """A field is declared once, in the class that introduces it; a subclass changes its default in @defaults."""
    seen = {c for cls in RECIPES.values() for c in cls.Options.__mro__ if dataclasses.is_dataclass(c)}
    for cls in seen:
        parent = next((b for b in cls.__mro__[1:] if dataclasses.is_dataclass(b)), None)
        if parent is None:
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
        declared = {s.target.id for s in body if isinstance(s, ast.AnnAssign)}
        assert not declared & {f.name for f in dataclasses.fields(parent)}, (cls, declared)


def test_defaults_names_only_inherited_fields():
    @dataclasses.dataclass
    class Base:
        a: int = 1
        b: list[int] = dataclasses.field(default_factory=lambda: [1])

    @C.defaults(a=2, b=[3, 4])
    class Child(Base):
        c: str = "x"

    assert [f.name for f in dataclasses.fields(Child)] == ["a", "b", "c"]
    one, two = Child(), Child()
    assert (one.a, one.b, Base().a) == (2, [3, 4], 1) and one.b is not two.b
    with pytest.raises(TypeError, match="c="):

        @C.defaults(c="y")
        class Redeclared(Base):
            c: str = "x"

    with pytest.raises(ConfigError, match="a: expected an integer"):

        @C.defaults(a="many")
        class Wrong(Base):
            pass


def test_a_saved_config_without_a_newer_option_keeps_its_old_behaviour():
    """Checkpoints store their full config; one written before an option existed lacks its key and gets the value
    the code had then (config.added), not the default preset's."""
    for recipe, key, before in [
        ("r3gan", "g_out", "linear"),
        ("r3gan", "g_input", "basis"),
        ("r3gan", "mode_seeking", 0.0),
        ("r3gan", "beta2_start", None),
        ("cgan", "g_cond", "input"),
        ("dcgan", "reuse_fakes", False),
        ("mlp-gan", "mode_seeking", 0.0),
    ]:
        new = resolve_config(recipe, "default")
        record = C.to_plain(new)
        assert config_from_dict(record) == new
        del record["model"][key]
        old = config_from_dict(record)
        assert getattr(old.model, key) == before != getattr(new.model, key), (recipe, key)


def write(folder, name, text):
    (folder / f"dcgan.{name}.yaml").write_text(f"# {name}\n{textwrap.dedent(text)}")


@pytest.mark.parametrize(
    "files, preset, message",
    [
        ({"a": "base: nope\n"}, "a", "dcgan.a.yaml: base 'nope' is not a dcgan preset (have: a, default)"),
        ({"a": "base: b\n", "b": "base: a\n"}, "a", "base cycle a -> b -> a"),
        ({"a": "base: a\n"}, "a", "base cycle a -> a"),
        ({"a": "model: {d_norm: none}\n"}, "a", "dcgan.a.yaml: names no base"),
        ({"a": "base: default\nrecipe: dcgan\n"}, "a", "a preset sets only base, data, train, model (not recipe)"),
    ],
)
def test_a_bad_base_is_a_one_line_error(tmp_path, monkeypatch, capsys, files, preset, message):
    monkeypatch.setattr(C, "presets_dir", lambda: tmp_path)
    write(tmp_path, "default", "data: {name: twemoji, size: 32}\n")
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(ConfigError) as e:
        resolve_config("dcgan", preset)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert main(["train", "dcgan", "-p", preset, "--dry-run"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {e.value}"]


def test_a_chain_resolves_base_first(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "presets_dir", lambda: tmp_path)
    write(tmp_path, "default", "data: {name: twemoji, size: 32}\ntrain: {lr: 1.0e-3}\n")
    write(tmp_path, "a", "base: default\ndata: {size: 64}\nmodel: {d_norm: none}\n")
    write(tmp_path, "b", "base: a\ntrain: {lr: 5.0e-4}\n")
    cfg = resolve_config("dcgan", "b")
    assert (cfg.preset, cfg.data.name, cfg.data.size, cfg.train.lr, cfg.model.d_norm) == (
        "b",
        "twemoji",
        64,
        5e-4,
        "none",
    )
    assert cfg.model.g_norm == DCGAN.Options().g_norm == "batch"  # what no preset sets: the dataclass default
    write(tmp_path, "c", "base: a\ndata: {size: 64, name: twemoji}\n")
    assert C.preset_layers(DCGAN, "c")[0].restated == ["data.size", "data.name"]
    write(tmp_path, "default", "base: a\n")
    with pytest.raises(ConfigError, match="the default preset has no base"):
        resolve_config("dcgan", "b")


def test_presets_diff_prints_each_layer(capsys):
    assert main(["presets", "dcgan", "--diff", "book-bn"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["dcgan book-bn (base: book)", "  model.g_conv_bn: none -> all", "dcgan book (base: default)"]
    assert "dcgan default (base: the dataclass defaults)" in lines
    assert any(ln.split() == ["data.size:", "32", "->", "64"] for ln in lines)  # book on default
    assert any(ln.split() == ["data.name:", "fashion-mnist", "->", "twemoji"] for ln in lines)  # default on DataConfig
    assert C.preset_layers(RECIPES["cgan"], "concat")[0].changes == {"model.d_cond": ("projection", "concat")}

    assert main(["presets"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(PRESETS) and all(ln.split()[:2] == [r, p] for ln, (r, p) in zip(listed, PRESETS))
    assert main(["presets", "r3gan"]) == 0
    assert [ln.split()[1] for ln in capsys.readouterr().out.splitlines()] == ["color32", "conditional", "default"]
    assert main(["presets", "--diff", "book"]) == 2 and "RECIPE --diff PRESET" in capsys.readouterr().err
    assert main(["presets", "dcgan", "--diff", "fancy"]) == 2 and "unknown preset 'fancy'" in capsys.readouterr().err
