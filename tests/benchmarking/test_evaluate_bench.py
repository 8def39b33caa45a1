"""``nnunet-topo bench evaluate``: folders of 0 cases are skipped, bad counts are clear errors."""
from __future__ import annotations

import json

import pytest

from nnunet_topo.benchmarking import evaluate


def test_zero_2d_cases_skips_the_2d_folder(tmp_path):
    out = tmp_path / "e.json"
    assert evaluate.main(["--cases", "0", "--cases-3d", "1", "--size-3d", "16", "24", "20", "--cases-slices", "0",
                          "-np", "1", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert "folder_2d" not in payload and "stages_2d_one_case" not in payload
    assert payload["folder_3d"]["cases"] == 1 and payload["folder_3d"]["shape"] == [16, 24, 20]
    assert "folder_3d_per_slice" not in payload


@pytest.mark.parametrize("argv, message", [
    (["--cases", "-1"], "number of cases >= 0, got '-1'"),
    (["--cases-3d", "x"], "number of cases >= 0, got 'x'"),
    (["--cases", "0", "--cases-3d", "0", "--cases-slices", "0"], "at least one folder"),
])
def test_bad_counts_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit):
        evaluate.main(argv)
    assert message in capsys.readouterr().err
