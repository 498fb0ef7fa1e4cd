"""The GPU check script runs end to end on a CPU (its --quick mode).

No CI machine has a GPU, so this is what keeps ``benchmarks/speed/gpu_check.py``
from rotting between the sessions that can run it on one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "speed" / "gpu_check.py"


@pytest.mark.slow
def test_gpu_check_quick_on_the_cpu(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), SKMEDTL_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (tmp_path / "gpu_check.md").read_text()
    # Every path agreed with CPU float32, and every input path was timed.
    assert "| False |" not in table
    for path in ("torch float16", "torch bfloat16", "cache (read back)", "onnxruntime"):
        assert path in table
    for column in (
        "model only",
        "uint8 arrays",
        "JPEG files, PIL",
        "JPEG files, nvjpeg",
    ):
        assert column in table
    assert "| resnet18 | torch float32 | 8 |" in table
