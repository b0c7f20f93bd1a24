"""Identity of a face: dlib's 128-d ResNet face descriptor for photographs, and similarity statistics.

dlib (PyPI ``dlib-bin``) and its weight files (PyPI ``face-recognition-models``: the 5-point landmark model and
``dlib_face_recognition_resnet_model_v1.dat``) install with ``pip install 'gankit[faces]'`` and are imported only
here, lazily. The descriptor is not differentiable (C++), so latent optimisation against it uses a gradient-free
step (``models/agecgan.py``). dlib's usual threshold: two descriptors closer than 0.6 are the same person.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..errors import GankitError

DLIB_NAME = "dlib ResNet face descriptor (128-d, face-recognition-models weights)"


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise GankitError("face identity needs the face-recognition-models package: pip install 'gankit[faces]'")
    return Path(spec.origin).parent / "models"  # its own helper needs pkg_resources, which may be absent


@lru_cache(maxsize=1)
def _dlib():
    try:
        import dlib
    except ImportError:
        raise GankitError("face identity needs dlib: pip install 'gankit[faces]' (dlib-bin)") from None
    d = _models_dir()
    sp, rec = d / "shape_predictor_5_face_landmarks.dat", d / "dlib_face_recognition_resnet_model_v1.dat"
    for f in (sp, rec):
        if not f.is_file():
            raise GankitError(f"{f}: dlib model file missing (reinstall face-recognition-models)")
    return (
        dlib,
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(sp)),
        dlib.face_recognition_model_v1(str(rec)),
    )


def detect_faces(rgb: np.ndarray, upsample: int = 1) -> list[tuple[int, int, int, int]]:
    """Frontal faces in an H x W x 3 uint8 image as (left, top, right, bottom), largest first."""
    _, det, _, _ = _dlib()
    rects = det(np.ascontiguousarray(rgb), upsample)
    boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def face_descriptor(rgb: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The 128-d descriptor of the face in ``box`` (default: the whole image is the face, as for a crop)."""
    dlib, _, sp, rec = _dlib()
    img = np.ascontiguousarray(rgb)
    h, w = img.shape[:2]
    l, t, r, b = box if box is not None else (0, 0, w - 1, h - 1)
    shape = sp(img, dlib.rectangle(int(l), int(t), int(r), int(b)))
    return np.asarray(rec.compute_face_descriptor(img, shape), dtype=np.float32)


class DlibIdentity:
    """``embed(images in [-1, 1], N x 3 x H x W) -> N x 128``; whole images are taken as face crops and enlarged to
    at least 150 px (the descriptor's chip size) first."""

    name = DLIB_NAME
    differentiable = False

    def __init__(self, min_side: int = 150):
        _dlib()
        self.min_side = min_side

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().float().cpu()
        if x.shape[-1] < self.min_side:
            x = torch.nn.functional.interpolate(
                x, size=(self.min_side, self.min_side), mode="bilinear", align_corners=False, antialias=False
            )
        u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return torch.from_numpy(np.stack([face_descriptor(im) for im in u8]))


def identity_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row Euclidean distance between embeddings (the book's and FaceNet's identity distance)."""
    return (a.float() - b.float()).norm(dim=1)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=1)


def pair_baselines(
    emb: torch.Tensor, identity: torch.Tensor, generator: torch.Generator, n_pairs: int = 2000
) -> dict[str, float]:
    """Mean cosine similarity of pairs of *different* images of the same identity, and of random pairs of
    different identities: the two ends an input<->output similarity is read against."""
    n = emb.shape[0]
    same, diff = [], []
    ids = identity.tolist()
    for i in range(n):
        for j in range(i + 1, n):
            if ids[i] == ids[j] and ids[i] >= 0:
                same.append((i, j))
    a = torch.randint(0, n, (n_pairs,), generator=generator)
    b = torch.randint(0, n, (n_pairs,), generator=generator)
    keep = identity[a] != identity[b]
    diff = cosine(emb[a[keep]], emb[b[keep]])
    out = {"random_pair": float(diff.mean()), "random_pairs": int(keep.sum())}
    if same:
        s = torch.tensor(same)
        out.update(same_identity=float(cosine(emb[s[:, 0]], emb[s[:, 1]]).mean()), same_pairs=len(same))
    return out
