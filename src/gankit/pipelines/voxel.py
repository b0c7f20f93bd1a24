"""Noise -> voxel shapes (gan3d): a noise pipeline whose samples are N x 1 x D x H x W occupancies in [0, 1], and
the meshes ``gankit voxels`` and the studio write from them."""

from __future__ import annotations

from ..data.meshes import voxels_to_mesh
from .noise import NoisePipeline

MESH_FORMATS = ("obj", "ply", "stl")


class VoxelPipeline(NoisePipeline):
    modality = "voxel"
    command = "gankit voxels CKPT -n 8 --export obj"
    output = {"name": "voxels", "dtype": "float32", "range": [0.0, 1.0], "layout": "NCDHW"}

    @property
    def resolution(self) -> int:
        return int(self.recipe.shape[-1])


def mesh_bytes(mesh, fmt: str) -> bytes:
    """A trimesh mesh as the bytes of an OBJ / PLY / STL file."""
    data = mesh.export(file_type=fmt)
    return data.encode() if isinstance(data, str) else data


def shape_file(vol, fmt: str, threshold: float = 0.5, keep_largest: bool = False) -> bytes | None:
    """One occupancy grid (D x H x W) -> mesh file bytes (marching cubes at ``threshold``, cleaned); None when no
    voxel reaches the threshold."""
    mesh = voxels_to_mesh(vol, threshold, keep_largest=keep_largest)
    return None if mesh is None else mesh_bytes(mesh, fmt)
