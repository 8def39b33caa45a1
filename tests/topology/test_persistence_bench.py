"""Smoke test of `nnunet-topo bench ph` at tiny sizes (speed goals live in docs/benchmarks.md)."""
from __future__ import annotations

import json

import pytest

from nnunet_topo.benchmarking import ph


def test_bench_ph_quick_writes_json(tmp_path):
    out = tmp_path / "ph.json"
    assert ph.main(["--quick", "--no-jit", "--kinds", "smooth", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "ph" and "machine" in payload
    methods = {(tuple(r["shape"]), r["method"]) for r in payload["rows"]}
    assert ((48, 40), "ours dims 0,1") in methods
    assert ((12, 10, 9), "ours all dims") in methods
    assert ((48, 40), "gudhi all dims") in methods
    for row in payload["rows"]:
        assert row["median_s"] > 0 and row["first_s"] > 0
        if row["method"].startswith("gudhi"):
            assert row["ratio_to_ours"] > 0


def test_bench_ph_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit):
        ph.main(["--sizes", "12", "--no-jit"])
    assert "expected a 2D or 3D size" in capsys.readouterr().err
