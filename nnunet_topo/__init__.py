"""nnunet_topo: topologically correct segmentation for nnU-Net v2.

Import-light on purpose: nnU-Net imports the trainer shims, and `topology`, `metrics` and `conversion`
must import without torch. Import subpackages explicitly, e.g. ``from nnunet_topo.topology import persistence``.
"""
__version__ = "0.1.0"
__all__ = ["__version__"]
