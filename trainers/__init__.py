"""nnU-Net-discoverable trainer shims of nnunet_topo (installed as the package ``nnunet_topo_trainers``).

Point nnU-Net at this folder with ``export nnUNet_extTrainer=$(nnunet-topo trainers-path)``. The
modules here only re-export classes defined in :mod:`nnunet_topo.training`: nnU-Net (>= 2.8) imports
them from this folder, then removes the folder from ``sys.path`` and unloads them, so classes *defined*
here could not be pickled afterwards. Nothing here does work at import time.
"""
