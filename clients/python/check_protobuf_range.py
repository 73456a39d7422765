#!/usr/bin/env python3
"""Installs kring-research next to the oldest and the newest protobuf it allows
and runs its unit tests there (ctest python_client_protobuf_range).

    python3 clients/python/check_protobuf_range.py WORK_DIR

Two fresh venvs under WORK_DIR (pip's cache in WORK_DIR/pip-cache, packages
from PyPI through pip's usual configuration):

* oldest: protobuf and grpcio at the lower bounds of pyproject.toml's
  dependencies (protobuf 4.25.0, grpcio 1.62.0), kept there by a constraints
  file while the client installs.
* newest: the newest protobuf and grpcio on PyPI, installed FIRST, as a user
  who already has them would; then ``pip install clients/python`` must leave
  that protobuf in place (the issue: the client used to downgrade protobuf 7
  to 4.25). When PyPI gains a protobuf major version outside the range, this
  fails and says so: check it, then widen the range in pyproject.toml.

In each: ``pip install <copy of clients/python>[plot] pytest cryptography``,
then the unit tests (not the server tests, not the generated-code check,
whose grpcio-tools needs protobuf < 5) against the INSTALLED package, with
skips counted as failures. Exit status 0 when both pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent  # clients/python
UNIT_TESTS = ["test_convert.py", "test_client_fake.py", "test_auth.py", "test_comparisons.py",
              "test_provenance.py", "test_plot.py"]


def lower_bound(requirement: str, name: str) -> str:
    """"protobuf>=4.25,<8" -> "4.25.0" (padded to three parts)."""
    m = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    if not m:
        sys.exit(f"pyproject.toml: {name} has no lower bound (>=) in {requirement!r}")
    parts = m.group(1).split(".")
    return ".".join((parts + ["0", "0"])[:3])


def dependencies() -> dict[str, str]:
    """The [project] dependencies of pyproject.toml by package name."""
    text = (HERE / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    if not block:
        sys.exit("pyproject.toml: no dependencies = [...] block")
    out = {}
    for req in re.findall(r'^\s*"([^"]+)"', block.group(1), re.M):
        out[re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower()] = req
    return out


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def version(python: Path, package: str) -> str:
    out = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def make_venv(work: Path, name: str) -> Path:
    venv = work / name
    if venv.exists():
        shutil.rmtree(venv)
    run([sys.executable, "-m", "venv", venv])
    return venv / "bin" / "python"


def unit_tests(python: Path, work: Path) -> None:
    """The unit tests against the installed package: run from WORK_DIR, with
    pyproject's pythonpath (the source tree) overridden, so ``import
    kring_research`` finds the venv's copy (conftest checks that)."""
    env = dict(os.environ, KRING_NO_SKIP="1", KRING_EXPECT_INSTALLED="1", PYTHONDONTWRITEBYTECODE="1",
               MPLBACKEND="Agg")
    for var in ("KRING_KRINGD", "KRING_KRINGCTL", "PYTHONPATH"):
        env.pop(var, None)
    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "pythonpath=",
         *[HERE / "tests" / t for t in UNIT_TESTS]], cwd=work, env=env)


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    work = Path(sys.argv[1]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["PIP_CACHE_DIR"] = str(work / "pip-cache")
    os.environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # pip builds the package in its source directory: build a copy, so the
    # checkout gets no build/ or *.egg-info.
    src = work / "kring-research-src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(HERE, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    deps = dependencies()
    extras = [f"{src}[plot]", "pytest", "cryptography"]
    failures = []

    # The oldest protobuf and grpcio allowed.
    oldest_pb = lower_bound(deps["protobuf"], "protobuf")
    oldest_grpc = lower_bound(deps["grpcio"], "grpcio")
    python = make_venv(work, "venv-oldest")
    constraints = work / "oldest-constraints.txt"
    constraints.write_text(f"protobuf=={oldest_pb}\ngrpcio=={oldest_grpc}\n")
    run([python, "-m", "pip", "install", "-q", "-c", constraints, *extras])
    got = (version(python, "protobuf"), version(python, "grpcio"))
    print(f"oldest: protobuf {got[0]}, grpcio {got[1]} ({deps['protobuf']}, {deps['grpcio']})", flush=True)
    if got != (oldest_pb, oldest_grpc):
        failures.append(f"oldest venv has protobuf {got[0]}, grpcio {got[1]}; expected {oldest_pb}, {oldest_grpc}")
    try:
        unit_tests(python, work)
    except subprocess.CalledProcessError:
        failures.append(f"unit tests failed with protobuf {got[0]}, grpcio {got[1]}")

    # The newest protobuf on PyPI, there before the client.
    python = make_venv(work, "venv-newest")
    run([python, "-m", "pip", "install", "-q", "protobuf", "grpcio"])
    before = version(python, "protobuf")
    run([python, "-m", "pip", "install", "-q", *extras])
    after, grpc_version = version(python, "protobuf"), version(python, "grpcio")
    print(f"newest: protobuf {before} before the client, {after} after; grpcio {grpc_version}", flush=True)
    if after != before:
        failures.append(f"pip install clients/python changed protobuf {before} (the newest on PyPI) to {after}: "
                        f"outside {deps['protobuf']}? Check the client with protobuf {before}, then widen the "
                        f"range in clients/python/pyproject.toml")
    try:
        unit_tests(python, work)
    except subprocess.CalledProcessError:
        failures.append(f"unit tests failed with protobuf {after}, grpcio {grpc_version}")

    for f in failures:
        print("FAILED:", f, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
