"""The checked-in generated modules must equal a fresh generation from proto/
(run clients/python/generate.sh after changing a .proto)."""

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent  # clients/python
CHECKED_IN = HERE / "kring_research" / "_proto"
GENERATED = ["events_pb2.py", "events_pb2.pyi", "research_pb2.py", "research_pb2.pyi", "research_pb2_grpc.py"]


def test_generated_modules_are_fresh(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools is not installed (pip install -e 'clients/python[generate]')")
    if shutil.which("bash") is None:
        pytest.skip("bash is not available to run generate.sh")
    env = dict(os.environ, PYTHON=sys.executable)
    subprocess.run(["bash", str(HERE / "generate.sh"), str(tmp_path)], check=True, env=env)
    stale = [name for name in GENERATED
             if not filecmp.cmp(tmp_path / "kring" / "v1" / name, CHECKED_IN / "kring" / "v1" / name, shallow=False)]
    assert not stale, f"{', '.join(stale)} differ from proto/: run clients/python/generate.sh and commit the result"
