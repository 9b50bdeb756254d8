"""bench/gpu_check.py: on a machine without CUDA it runs, says so on one line, marks every row
skipped and exits 0 (nothing measured, nothing claimed); its window rule is enforced."""
import pytest
import torch

from tests.bench_scripts import load


def _gpu_check():
    return load("gpu_check")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check runs")
def test_without_cuda_the_check_skips_cleanly(capsys, tmp_path):
    gc = _gpu_check()
    assert gc.main(["--json", str(tmp_path / "g.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("gpu_check: no CUDA device") and "nothing measured" in out[0]
    for row in gc.ROWS:
        assert any(line.startswith(row) and line.endswith("skipped (no CUDA device)") for line in out)
    assert "skipped" in (tmp_path / "g.json").read_text()


def test_energy_windows_shorter_than_a_second_are_refused(capsys):
    assert _gpu_check().main(["--window-s", "0.5"]) == 2
    assert "allowed: >= 1" in capsys.readouterr().err
