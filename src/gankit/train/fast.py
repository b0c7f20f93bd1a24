"""Speed options applied to a recipe's networks: channels-last, autocast (bf16/fp16), torch.compile; process
settings: glibc heap retention on the CPU, cudnn.benchmark and TF32 on CUDA.

``apply_fast_path`` converts the networks in place and returns the autocast context factory the Trainer
wraps each step in. Master weights and optimizer state stay fp32 whatever the precision.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import nullcontext

import torch
from torch import nn

from ..errors import GankitError


def cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX: the CPUs where bf16 autocast is fast rather than emulated."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def check_precision(precision: str) -> None:
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise GankitError(f"--precision must be auto, fp32, bf16 or fp16, got '{precision}'")


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_has_bf16() else "fp32"
    return "fp32"


def has_conv(net: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in net.modules())


def has_conv3d(net: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)) for m in net.modules())


def channels_last_format(net: nn.Module) -> torch.memory_format | None:
    """``channels_last_3d`` for a net of 3D convolutions, ``channels_last`` for 2D ones, None for neither."""
    if has_conv3d(net):
        return torch.channels_last_3d
    return torch.channels_last if has_conv(net) else None


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """A batch tensor in the channels-last layout of its rank (NHWC, NDHWC); other tensors unchanged."""
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    if x.dim() == 5:
        return x.contiguous(memory_format=torch.channels_last_3d)
    return x


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_heap() -> bool:
    """Stop glibc from serving big blocks with fresh mmap'd pages and from handing freed memory back.

    glibc's mmap threshold tops out at 32 MiB, so a batch's large activations (a 128x128x32x32 bf16 map is 33.5 MiB)
    are mapped, page-faulted in page by page and unmapped again in every step: about 60k page faults per DCGAN
    step. Serving them from the heap and keeping it lets the next step reuse the same memory (peak RSS barely
    moves: 1.0-1.19 GiB per recipe in `make bench`, 0.98-1.15 before; freed memory stays in the
    process). Process-wide; a no-op off glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError, TypeError):
        return False


def configure_cuda(tf32: bool) -> None:
    """Static shapes every step: let cuDNN pick the fastest algorithms once; TF32 for fp32 matmuls/convs if asked."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def apply_fast_path(recipe, t, device: torch.device):
    """Convert ``recipe``'s nets per TrainConfig ``t``; return a zero-argument autocast context factory."""
    if device.type == "cpu" and getattr(t, "keep_heap", False):
        keep_heap()
    if device.type == "cuda":
        configure_cuda(getattr(t, "tf32", True))
    if getattr(t, "channels_last", False):
        for net in recipe.networks().values():
            fmt = channels_last_format(net)
            if fmt is not None:
                net.to(memory_format=fmt)
    if getattr(t, "compile", False):
        import torch._dynamo as dynamo

        dynamo.config.suppress_errors = True  # fall back to eager where compilation fails
        for net in recipe.networks().values():
            net.compile(dynamic=False)
    precision = resolve_precision(t.precision, device)
    if precision == "fp32":
        return nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)


def fast_sampler(G: nn.Module, device: torch.device, precision: str = "auto", channels_last: bool = True):
    """A function z -> float32 images running G in inference mode with channels-last and bf16/fp16 autocast
    where the hardware is fast at it. G itself is not modified (a channels-last copy is made)."""
    import copy

    net = copy.deepcopy(G).eval().requires_grad_(False)
    fmt = channels_last_format(net) if channels_last else None
    if fmt is not None:
        net = net.to(memory_format=fmt)
    precision = resolve_precision(precision, device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def run(z, *args):
        with torch.inference_mode():
            if dtype is None:
                return net(z, *args).float()
            with torch.autocast(device.type, dtype=dtype):
                return net(z, *args).float()

    return run
