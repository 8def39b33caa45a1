"""Project-wide test fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """``../shared/data`` beside the checkout (override with ``NNUNET_TOPO_SHARED_DATA``)."""
    return Path(os.environ.get("NNUNET_TOPO_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real datasets; tests that need it are skipped, with the reason, when it is absent."""
    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set NNUNET_TOPO_SHARED_DATA)")
    return root


def pytest_configure(config: pytest.Config) -> None:
    """Markers and warning filters (kept here so the repository's top level stays as the brief lists it)."""
    config.addinivalue_line(
        "markers", "slow: end-to-end tests (nnU-Net training, real-data converters); deselect with -m 'not slow'"
    )
    config.addinivalue_line("markers", "realdata: needs ../shared/data (skipped with a reason when absent)")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:batchgenerators.*")
    # The loss tests read a loss value with float(), which is what they mean; torch warns about it.
    config.addinivalue_line("filterwarnings",
                            "ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning")
