"""benchmarks/refs/: the speed references are seed 000's DCGAN, layer for layer (checked against the seed's table)."""

import ast
import importlib.util
from pathlib import Path

import torch
from test_seed_fidelity import SEED_000, keras_layers, torch_layers

REFS = Path(__file__).resolve().parents[1] / "benchmarks" / "refs"


def test_plain_pytorch_reference_is_the_seed_dcgan():
    spec = importlib.util.spec_from_file_location("torch_dcgan_ref", REFS / "torch_dcgan_ref.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    g, d = ref.generator(), ref.discriminator()
    g_want, g_params = keras_layers(SEED_000["G"], (100, 1, 1))
    d_want, d_params = keras_layers(SEED_000["D"], SEED_000["input"])
    assert torch_layers(g) == g_want
    assert torch_layers(d) == d_want[:-1]  # the sigmoid is in BCEWithLogitsLoss
    assert sum(p.numel() for p in g.parameters()) == g_params == 1_466_115
    assert sum(p.numel() for p in d.parameters()) == d_params == 522_497
    assert g(torch.randn(2, 100)).shape == (2, 3, 32, 32) and d(torch.zeros(2, 3, 32, 32)).shape == (2, 1)
    assert (ref.N_BATCH, ref.HALF, ref.LATENT) == (128, 64, 100)  # the seed's iteration


def keras_table(path: Path, fn: str) -> list[tuple]:
    """The layers a Keras script's ``fn`` builds, read from its source, in the seed table's vocabulary."""
    tree = ast.parse(path.read_text())
    (func,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == fn]
    out = []
    for call in ast.walk(func):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "layers"
        ):
            continue
        kind = call.func.attr
        args = [const(a) for a in call.args]
        kw = {k.arg: const(k.value) for k in call.keywords}
        act = [kw["activation"]] if "activation" in kw else []
        if kind == "Dense":
            out.append(("Dense", args[0], *act))
        elif kind in ("Conv2D", "Conv2DTranspose"):
            k = args[1][0] if isinstance(args[1], tuple) else args[1]
            s = kw.get("strides", 1)
            s = s[0] if isinstance(s, tuple) else s
            assert kw.get("padding") == "same"
            out.append((kind, args[0], k, s, *act))
        elif kind in ("LeakyReLU", "Dropout", "Reshape"):
            out.append((kind, args[0]))
        else:
            out.append((kind,))
    return out  # ast.walk visits a list's elements in order: a Sequential([...]) keeps its layer order


def const(node):
    """A literal or constant arithmetic (``256 * 4 * 4``), nothing else."""
    assert all(
        isinstance(n, (ast.Constant, ast.BinOp, ast.Tuple, ast.operator, ast.Load, ast.UnaryOp, ast.unaryop))
        for n in ast.walk(node)
    ), ast.dump(node)
    return eval(compile(ast.Expression(node), "<layer>", "eval"), {"__builtins__": {}})


def test_keras_references_are_the_seed_dcgan():
    for script, d_out in (("keras_dcgan_ref.py", ("Dense", 1, "sigmoid")), ("keras_dcgan_fixed.py", ("Dense", 1))):
        g = keras_table(REFS / script, "define_generator")
        d = keras_table(REFS / script, "define_discriminator")
        assert g == SEED_000["G"], script
        assert d[:-1] == SEED_000["D"][:-1] and d[-1] == d_out, script  # fixed: a logit + from_logits BCE
        assert keras_layers(g, (100, 1, 1))[1] == 1_466_115
        assert keras_layers(d, SEED_000["input"])[1] == 522_497
