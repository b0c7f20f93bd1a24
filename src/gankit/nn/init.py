"""Weight initialisation schemes: the seeds use Keras defaults or N(0, 0.02); PyTorch has its own."""

from __future__ import annotations

from torch import nn

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)


def init_weights(module: nn.Module, scheme: str, generator=None) -> nn.Module:
    """``keras``: Glorot-uniform kernels, zero biases (what the Keras seeds get by default);
    ``normal02``: N(0, 0.02) kernels, zero biases, BN gamma N(1, 0.02) (the DCGAN paper's init);
    ``keras-normal02``: N(0, 0.02) kernels (Keras ``RandomNormal(stddev=0.02)``), zero biases, and Keras' BN
    defaults gamma 1, beta 0 (seed 002, LSGAN);
    ``torch``: leave PyTorch's defaults."""
    if scheme == "torch":
        return module
    if scheme not in ("keras", "normal02", "keras-normal02"):
        raise ValueError(f"unknown init scheme {scheme!r}")
    for m in module.modules():
        w = getattr(m, "weight_orig", None)  # old-style spectral norm
        par = getattr(m, "parametrizations", None)
        if w is None and par is not None and "weight" in par:  # torch.nn.utils.parametrizations.spectral_norm
            w = par.weight.original
        if w is None:
            w = getattr(m, "weight", None)
        if isinstance(m, _WEIGHTED) and w is not None:
            if scheme == "keras":  # Glorot uniform
                nn.init.xavier_uniform_(w, generator=generator)
            else:
                nn.init.normal_(w, 0.0, 0.02, generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and getattr(m, "weight", None) is not None:
            if scheme == "normal02":
                nn.init.normal_(m.weight, 1.0, 0.02, generator=generator)
            else:
                nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module
