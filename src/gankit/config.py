"""Run configuration: dataclasses, YAML presets and dotted overrides (``train.lr=1e-4``).

A resolved config is saved into every run directory and every checkpoint, so a checkpoint can be
sampled or resumed without repeating any training flag.

Every default has one source. DataConfig, TrainConfig and a family's ``Options`` dataclass hold the defaults; a
family's ``default`` preset is its Options' defaults plus the data and training keys that differ from DataConfig's
and TrainConfig's. Every other preset names its ``base:`` (another preset of the same recipe) and holds only the keys
that differ from it, as StyleGAN3's cfg table and nanoGPT's config files do; ``preset_layers`` says what each one
changes (``gankit presets RECIPE --diff PRESET``).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from .config_ranges import check_ranges
from .errors import ConfigError


@dataclass
class DataConfig:
    name: str = "fashion-mnist"  # a dataset name (`gankit data list`), `folder:PATH`, or a path
    size: int | None = None  # resize to size x size; None keeps the native size
    channels: int | None = None  # 1 or 3; None keeps the native channels
    split: str = "train"
    background: str = "white"  # colour RGBA images are composited on
    limit: int | None = None  # use only the first N images (quick runs, tests)
    skip_bad: bool = False  # skip unreadable images (and count them) instead of failing
    cache: Literal["auto", "memory", "mmap"] = "auto"  # image folders: decoded pixels in memory, or in a memory-mapped
    # file under $GANKIT_CACHE/decoded (one per folder, size and channels); auto: mmap above 2 GiB decoded
    # image-to-image translation (pix2pix, cyclegan; data/pairs.py)
    direction: Literal["AtoB", "BtoA"] = "AtoB"  # which side is the input
    load_size: int | None = None  # jitter: resize to this, then random-crop `size` (paper: 286 -> 256)
    flip: bool = False  # random horizontal flip (the same flip for both images of a pair)
    fit: Literal["crop", "stretch", "pad"] = "crop"  # how a non-square image becomes square
    disjoint: bool = False  # unpaired data: A and B drawn from disjoint halves of the training items


@dataclass
class TrainConfig:
    batch_size: int = 64
    steps: int | None = None  # budgets: the first one reached ends the run
    epochs: float | None = None
    minutes: float | None = None
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32"  # auto: bf16 where the hardware is fast at it
    channels_last: bool = False  # NHWC memory format for conv nets
    compile: bool = False  # torch.compile each network (falls back to eager where it fails)
    fused: bool = False  # fused Adam/SGD kernels
    tf32: bool = True  # CUDA: TF32 tensor cores for fp32 matmuls/convs (cudnn.benchmark is on for CUDA regardless)
    keep_heap: bool = True  # CPU: keep freed memory for reuse instead of page-faulting big activations in each step
    threads: int | None = None  # torch intra-op threads on the CPU
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 2e-4  # learning rate of G (and of D unless lr_d is set)
    lr_d: float | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    beta1_d: float | None = None  # Adam beta1 of D when it differs from G's (seed 003: G 0.9, D 0.5)
    eps: float = 1e-8  # Adam's epsilon (PyTorch's default; Keras uses 1e-7)
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    ema: float = 0.0  # EMA decay of G's weights for sampling; 0 turns it off
    # the EMA copy's batch-norm statistics: recompute (re-estimated from its own forward passes whenever it is
    # sampled, evaluated or saved: train/ema.py) or copy (the raw G's); training itself is the same either way, so a
    # run saved without this key resumes with recompute
    ema_bn: Literal["recompute", "copy"] = "recompute"
    log_every: int = 50
    sample_every: int = 500
    ckpt_every: int = 1000
    keep: int = 3  # checkpoints kept besides `best`
    grid: int = 8  # side of the fixed-latent sample grid
    report_every_epochs: float | None = None  # recipe-specific periodic report (e.g. seed 000's D accuracy)
    max_rollbacks: int = 3  # NaN/Inf guard: roll back to the last good checkpoint at most this many times
    rollback_lr_factor: float = 0.5  # ... multiplying every learning rate by this each time
    eval_every: int | None = None  # FID/KID every N steps (eval/* in metrics.jsonl); checkpoints/best = lowest FID
    eval_n: int = 2000  # generated images per periodic evaluation
    eval_extractor: str = "auto"  # auto (domain:<dataset>, else inception), domain:<dataset>, inception, random


@dataclass
class Config:
    recipe: str
    preset: str = "default"
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model: Any = None  # the recipe's Options dataclass

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- strict conversion


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a ConfigError naming ``key``.

    Strings (from the command line) are parsed for numbers and booleans; no other implicit
    conversion is made except int -> float.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if errors else ConfigError(f"{key}: cannot be {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if origin in (list, tuple):
        (arg, *_) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        items = [coerce(v, arg, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                try:
                    f = float(value)
                    if f.is_integer():
                        return int(f)
                except ValueError:
                    pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    raise ConfigError(f"{key}: unsupported type {_type_name(tp)}")


def build(cls, data: Any, prefix: str = "", record: bool = False):
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types. A ``record`` (a saved config)
    that lacks a key declared with ``added`` gets the value it meant before that option existed."""
    if data is None:
        data = {}
    if dataclasses.is_dataclass(data):
        data = dataclasses.asdict(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in data:
        if k not in names:
            where = f"{prefix}.{k}" if prefix else k
            raise ConfigError(f"unknown config key '{where}' (valid: {', '.join(sorted(names))})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            key = f"{prefix}.{f.name}" if prefix else f.name
            kwargs[f.name] = coerce(data[f.name], hints[f.name], key)
        elif record and "before" in f.metadata:
            kwargs[f.name] = copy.deepcopy(f.metadata["before"])
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{prefix or 'config'}: {e}") from None


def parse_overrides(items: list[str]) -> dict:
    """``["train.lr=1e-4", "data.size=32"]`` -> nested dict of raw strings."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"bad override '{item}': expected key=value, e.g. train.lr=1e-4")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"bad override key '{key}'")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                raise ConfigError(f"override '{key}' conflicts with another override")
        d[parts[-1]] = value.strip()
    return out


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# --------------------------------------------------------------------------- Options dataclasses


def _field(value, metadata=None):
    if isinstance(value, (list, dict)):
        return field(default_factory=functools.partial(copy.deepcopy, value), metadata=metadata)
    return field(default=value, metadata=metadata)


def defaults(**values):
    """``@defaults(loss="hinge", ...)`` in place of ``@dataclass`` on an Options class that inherits fields (a
    family built on another family or on the training toolbox): the class becomes a dataclass whose inherited
    fields named here default to these values. Each field is declared once, with its type and comment, in the class
    that introduces it; a subclass states only the defaults it changes, in this one place, so its ``default`` preset
    is readable from its own class and no field is redeclared. A list value is copied for each instance."""

    def wrap(cls):
        inherited = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        annotations = dict(cls.__dict__.get("__annotations__", {}))
        for name, value in values.items():
            if name not in inherited or name in annotations:
                raise TypeError(f"{cls.__qualname__}: @defaults({name}=...) names no field it inherits")
            setattr(cls, name, _field(coerce(value, hints[name], name), inherited[name].metadata))
            annotations[name] = hints[name]  # the resolved type: it need not be importable in this module
        cls.__annotations__ = annotations
        return dataclass(cls)

    return wrap


_SAME = object()


def added(default, before=_SAME):
    """A field for an option added after runs were saved: a new run gets ``default`` (or a subclass's ``@defaults``
    value), a saved config without the key (a checkpoint from before the option existed) gets ``before`` (default:
    ``default``), the behaviour it was made with. Use it when a new option's default is not what the code did before."""
    return _field(default, {"before": default if before is _SAME else before})


# --------------------------------------------------------------------------- presets


def presets_dir() -> Path:
    """The bundled presets' folder, ``<recipe>.<preset>.yaml`` files."""
    return Path(str(resources.files("gankit") / "presets"))


def preset_path(recipe: str, preset: str) -> Path:
    return presets_dir() / f"{recipe}.{preset}.yaml"


def list_presets() -> list[tuple[str, str, str]]:
    """(recipe, preset, first comment line) for every bundled preset."""
    rows = []
    for p in sorted(presets_dir().iterdir(), key=lambda p: p.name):
        if p.name.endswith(".yaml"):
            recipe, preset = p.name[: -len(".yaml")].rsplit(".", 1)
            first = p.read_text().splitlines()[0] if p.read_text() else ""
            rows.append((recipe, preset, first.lstrip("# ").strip()))
    return rows


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


SECTIONS = ("data", "train", "model")  # what a preset file sets, besides its `base:`


def read_preset(recipe: str, preset: str) -> dict:
    """A preset file's own mapping (its ``base:`` and the keys it sets)."""
    path = preset_path(recipe, preset)
    if not path.exists():
        have = [p for r, p, _ in list_presets() if r == recipe]
        raise ConfigError(f"unknown preset '{preset}' for {recipe} (have: {', '.join(have)})")
    raw = read_yaml(path)
    extra = set(raw) - {"base", *SECTIONS}
    if extra:
        raise ConfigError(f"{path}: a preset sets only base, {', '.join(SECTIONS)} (not {', '.join(sorted(extra))})")
    return raw


def preset_chain(recipe: str, preset: str) -> list[tuple[str, dict]]:
    """``[(name, its own keys)]`` from ``default`` up to ``preset``, each preset named by the next one's ``base:``.
    ``default`` alone has no base (it starts from the dataclass defaults); every other preset names one."""
    chain: list[tuple[str, dict]] = []
    name = preset
    while True:
        raw = dict(read_preset(recipe, name))
        base = raw.pop("base", None)
        chain.append((name, raw))
        if name == "default":
            if base is not None:
                raise ConfigError(
                    f"{preset_path(recipe, name)}: the default preset has no base (it starts from the "
                    f"dataclass defaults)"
                )
            return chain[::-1]
        where = preset_path(recipe, name)
        if base is None:
            raise ConfigError(f"{where}: names no base (every preset but default starts from one: base: default)")
        if not isinstance(base, str) or not preset_path(recipe, base).exists():
            have = ", ".join(p for r, p, _ in list_presets() if r == recipe)
            raise ConfigError(f"{where}: base {base!r} is not a {recipe} preset (have: {have})")
        if base in (n for n, _ in chain):
            raise ConfigError(f"{where}: base cycle {' -> '.join([*(n for n, _ in chain), base])}")
        name = base


def preset_raw(recipe: str, preset: str) -> dict:
    """The keys ``preset`` sets through its chain of bases, merged (the dataclasses fill in the rest)."""
    raw: dict = {}
    for _, own in preset_chain(recipe, preset):
        raw = merge(raw, own)
    return raw


def resolve(
    recipe_cls,
    preset: str = "default",
    config_file: str | Path | None = None,
    overrides: list[str] | dict | None = None,
) -> Config:
    """Dataclass defaults <- preset chain (``default`` ... ``preset``) <- user config file <- dotted overrides,
    validated into a Config.

    ``recipe_cls`` is the family's Recipe class (its ``name``, ``Options`` and ``validate``): config knows no family,
    the recipe hands its options in. By name: ``gankit.models.resolve_config("dcgan", ...)``."""
    recipe = recipe_cls.name
    raw = preset_raw(recipe, preset)
    if config_file:
        raw = merge(raw, read_yaml(Path(config_file)))
    if overrides:
        raw = merge(raw, parse_overrides(overrides) if isinstance(overrides, list) else overrides)
    raw.setdefault("recipe", recipe)
    raw.setdefault("preset", preset)
    return from_dict(raw, recipe_cls, record=False)


def _typed(raw: dict, recipe_cls, record: bool) -> Config:
    """``raw`` read into a Config (types checked, not ranges or the recipe's rules)."""
    if not isinstance(raw, dict) or "recipe" not in raw:
        raise ConfigError("config: missing 'recipe'")
    if raw["recipe"] != recipe_cls.name:
        raise ConfigError(f"config: recipe '{raw['recipe']}' given to the {recipe_cls.name} options")
    raw = dict(raw)
    model = build(recipe_cls.Options, raw.pop("model", None), "model", record)
    cfg = build(Config, raw)
    cfg.model = model
    return cfg


def from_dict(raw: dict, recipe_cls, record: bool = True) -> Config:
    """A Config from plain data, its ``model`` section read into ``recipe_cls.Options`` and checked by
    ``recipe_cls.validate``. ``record``: ``raw`` is a saved config (a checkpoint's, a run's config.yaml), whose
    missing keys predate those options (``added``); ``resolve`` passes False. By name:
    ``gankit.models.config_from_dict``."""
    cfg = _typed(raw, recipe_cls, record)
    check_ranges(cfg)
    recipe_cls.validate(cfg)
    return cfg


@dataclass
class Layer:
    """One preset of a chain: what it changes relative to its base (``None``: the dataclass defaults).
    ``changes``: dotted key -> (the base's value, this preset's); ``restated``: keys its file sets to the value the
    base already has (a well-kept preset has none)."""

    preset: str
    base: str | None
    changes: dict[str, tuple[Any, Any]]
    restated: list[str]


def _flat(cfg: dict) -> dict[str, Any]:
    return {f"{s}.{k}": v for s in SECTIONS for k, v in (cfg.get(s) or {}).items()}


def preset_layers(recipe_cls, preset: str) -> list[Layer]:
    """What each preset of ``preset``'s chain changes: ``preset`` first, ``default`` (against the dataclass
    defaults) last. Values are typed (a file's ``2.0e-4`` and a base's ``0.0002`` are one value) and not validated (a
    stage-2 preset needs ``model.init_from`` only to train)."""
    recipe = recipe_cls.name
    flat = lambda raw: _flat(to_plain(_typed({**raw, "recipe": recipe}, recipe_cls, record=False)))
    raw, before, layers, base = {}, flat({}), [], None
    for name, own in preset_chain(recipe, preset):
        raw = merge(raw, own)
        now = flat(raw)
        changes = {k: (before[k], v) for k, v in now.items() if v != before[k]}
        layers.append(Layer(name, base, changes, [k for k in _flat(own) if now[k] == before[k]]))
        before, base = now, name
    return layers[::-1]


def _spell(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).removesuffix("\n").removesuffix("\n...")


def preset_diff(recipe_cls, preset: str) -> list[str]:
    """``preset_layers`` as text, a few lines per preset of the chain: ``dcgan book-bn (base: book)`` and under it
    ``model.g_conv_bn: none -> all``, down to ``default`` against the dataclass defaults."""
    lines = []
    for layer in preset_layers(recipe_cls, preset):
        lines.append(f"{recipe_cls.name} {layer.preset} (base: {layer.base or 'the dataclass defaults'})")
        width = max(map(len, layer.changes), default=0)
        lines += [f"  {k + ':':{width + 1}s} {_spell(a)} -> {_spell(b)}" for k, (a, b) in layer.changes.items()]
    return lines


def dump(cfg: Config) -> str:
    return yaml.safe_dump(_plain(cfg.to_dict()), sort_keys=False)


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def to_plain(cfg: Config) -> dict:
    """The config as plain JSON/YAML types (tuples become lists)."""
    return _plain(cfg.to_dict())
