"""Packaging for nnunet_topo: topology-aware training and evaluation for nnU-Net v2."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="nnunet_topo",
    version="0.1.0",
    description="nnU-Net v2 plugin for topologically correct segmentation: persistent-homology engine, "
    "topological losses, trainers, converters and a topology evaluator.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # trainers/ ships as the top-level package nnunet_topo_trainers, so `nnunet-topo trainers-path`
    # (the folder for nnUNet_extTrainer) exists in editable and wheel installs alike.
    packages=find_packages(include=["nnunet_topo", "nnunet_topo.*"]) + ["nnunet_topo_trainers"],
    package_dir={"nnunet_topo_trainers": "trainers"},
    include_package_data=True,
    install_requires=[
        "nnunetv2>=2.8",
        # torch is not pinned: `make install` installs the machine's local wheel first when there is one.
        "torch>=2.1",
        "gudhi>=3.8",
        "numba>=0.59",
        "batchgenerators>=0.25",
        "SimpleITK>=2.2",
        "numpy>=1.24",
        "scipy>=1.10",
        "scikit-image>=0.21",
        "connected-components-3d>=3.12",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "pillow>=9.0",
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6"],
        "bench": ["cripser>=0.0.30", "topolosses>=0.2"],
    },
    entry_points={"console_scripts": ["nnunet-topo=nnunet_topo.cli:main"]},
)
