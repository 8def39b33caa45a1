"""``nnunet-topo demo``: the embedded synthetic dataset and the train / predict / evaluate loop around nnU-Net.

* :mod:`.data`: the dataset generator (NumPy/SciPy only) and its nnU-Net raw-dataset writer.
* :mod:`.trainers`: fixed-budget trainer variants (``*_demo``, ``*_bench``), found by nnU-Net through
  ``nnUNet_extTrainer``; :mod:`.budget` passes their budget through the environment.
* :mod:`.pipeline`: nnU-Net's plan / train / predict steps as child processes.
* :mod:`.experiment`: one trainer trained, predicted and evaluated; :mod:`.report`: the comparison.
* :mod:`.cli`: ``nnunet-topo demo``. ``nnunet-topo bench train`` reuses the same pieces on real data.

Importing this package imports nothing heavy.
"""
from __future__ import annotations

__all__ = ["data", "budget", "pipeline", "experiment", "report", "cli"]
