"""No behaviour change from refactors: each default preset's losses for its first 20 steps at seed 0 equal the ones
recorded before the optimizer-step refactor (``tests/golden_losses.py --record``): bit for bit in fp32, within the
fast-path tolerance at the preset's own precision (bf16 on CPUs with AVX512-BF16/AMX). The record has one section per
CPU instruction set (``golden_losses.cpu()``); a CPU without one skips, naming the command that records it."""

import json

import golden_losses as G
import pytest

GOLDEN = json.loads(G.PATH.read_text()).get(G.cpu(), {})


def want(key: str) -> dict[str, list[float]]:
    if key not in GOLDEN:
        pytest.skip(f"no golden record of {key} for this CPU ({G.cpu()}): python tests/golden_losses.py --record")
    return GOLDEN[key]


# the presets whose own precision is not fp32 (train.precision: auto); mlp-gan's and cgan's records were made in fp32,
# before they took the fast path, so their bf16 runs are held to the fp32 record within the tolerance
BF16_PRESETS = ("dcgan", "lsgan", "mlp-gan", "cgan")


@pytest.mark.slow
@pytest.mark.parametrize("recipe", list(G.RUNS))
def test_fp32_losses_are_bitwise_unchanged(recipe):
    record = want(f"{recipe}/fp32")
    got = G.losses_of(recipe, "fp32")
    assert set(record) <= set(got)
    for k in record:
        first = next((i + 1 for i, (a, b) in enumerate(zip(got[k], record[k])) if a != b), None)
        assert got[k] == record[k], f"{recipe} {k}: first difference at step {first}"


@pytest.mark.slow
@pytest.mark.parametrize("recipe", BF16_PRESETS)
def test_preset_precision_losses_track_the_record(recipe):
    from gankit.train.fast import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("the record was made with bf16 autocast; this CPU runs the preset in fp32")
    record = want(f"{recipe}/preset")
    got = G.losses_of(recipe, "preset")
    for k in record:  # the fast-path test's tolerance: 0.03 per 5-step mean
        for i in range(0, G.STEPS, 5):
            a, b = sum(got[k][i : i + 5]) / 5, sum(record[k][i : i + 5]) / 5
            assert abs(a - b) <= 0.03 * max(1.0, abs(b)), f"{recipe} {k} steps {i + 1}-{i + 5}: {a} vs {b}"
