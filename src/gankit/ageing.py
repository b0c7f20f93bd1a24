"""Re-age faces with a trained agecgan checkpoint (stage 2: G and its encoder E): the library behind ``gankit age``
and the studio's ageing view. The checkpoint is read by the one loader (``train.loader``)."""
from __future__ import annotations

from .errors import GankitError
from .models.agecgan import AgeModel, EmojiEmbedder
from .train.loader import load_recipe, read


def load_model(path, device: str = "cpu", identity: str | None = None) -> AgeModel:
    """G and E of a stage-2 agecgan checkpoint, with its identity embedder (``identity`` overrides the
    checkpoint's: ``emoji``, ``dlib`` or ``none``)."""
    c, cls = read(path)
    if cls.name != "agecgan":
        raise GankitError(f"{c.path}: a {cls.name} checkpoint; ageing needs an agecgan one")
    stage = (c.config.get("model") or {}).get("stage")
    if stage != "encoder":
        raise GankitError(f"{c.path}: a stage-1 (gan) checkpoint has no encoder; train stage 2 with "
                          f"--preset encoder model.init_from={c.path}")
    r = load_recipe(c, device, ema=False).recipe
    which = identity or r.opts.identity
    emb = None
    if which == "emoji":
        if "F" not in r.nets:
            raise GankitError(f"{c.path}: holds no emoji identity embedder (trained with identity={r.opts.identity})")
        emb = EmojiEmbedder(r.F.eval().requires_grad_(False))
    elif which == "dlib":
        from .metrics.identity import DlibIdentity
        emb = DlibIdentity()
    info = c.state.get("data_info", {})
    model = AgeModel(r.G, r.E, r.num_classes, r.opts, emb, c)
    model.classes = list(info.get("classes", []))
    model.shape = tuple(info["shape"])
    return model
