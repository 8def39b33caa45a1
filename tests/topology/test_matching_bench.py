"""``nnunet-topo bench matching``: a quick run writes a complete JSON; bad options fail clearly."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nnunet_topo.benchmarking import matching as bench


def test_quick_run_writes_json(tmp_path):
    out = tmp_path / "m.json"
    assert bench.main(["--sizes", "12x9", "5x6x4", "--repeats", "1", "--no-peer", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "matching" and "machine" in payload
    rows = payload["rows"]
    assert {tuple(r["shape"]) for r in rows} == {(12, 9), (5, 6, 4)}
    assert {r["kind"] for r in rows} == set(bench.KINDS)
    for r in rows:
        assert r["median_s"] > 0 and r["first_s"] > 0
    face = [r for r in rows if r["method"] == "ours face all dims"]
    assert all(len(r["errors"]) == len(r["shape"]) for r in face)
    assert not list(tmp_path.glob("*.tmp"))


def test_pairs_are_prediction_and_binary_target():
    for kind in bench.KINDS:
        pred, target = bench.make_pair(kind, (10, 14))
        assert pred.shape == target.shape == (10, 14) and pred.dtype == np.float64
        assert set(np.unique(target)) <= {0.0, 1.0}
        assert 0.0 <= pred.min() and pred.max() <= 1.0
    with pytest.raises(ValueError, match="kind"):
        bench.make_pair("noise", (4, 4))


@pytest.mark.parametrize("argv", [["--sizes", "12"], ["--sizes", "axb"], ["--repeats", "0"]])
def test_bad_options_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv + ["--no-peer"])
    assert exc.value.code == 2
    assert "expected" in capsys.readouterr().err
