"""The examples of docs/api.md and proto/README.md, run as written.

A fenced block is an example when an HTML comment (invisible when the Markdown
is rendered) stands on the line before its opening fence:

  <!-- example: file NAME -->   the block's text is written to NAME in the work folder
  <!-- example: run -->         a shell block, run with `bash -e -o pipefail`; must exit 0
  <!-- example: run exit=N -->  ... must exit N
  <!-- example: output -->      the output (stdout and stderr) of the run block before it
                                must hold these lines in this order (other lines may come in
                                between); "..." in a line stands for any text
  <!-- example: skip REASON --> not run (REASON says why)

Every ```sh block must carry one of these, so that no new example goes untested.

Blocks run in document order, one Markdown file after the other, in one work
folder, against one kringd started here in development mode (a fresh data
folder, embedded Kafka, a free port). What is changed for the run, and nothing
else:
  - the text "127.0.0.1:50051" (kringd's default --listen, which the examples
    use) is replaced by the address of that kringd, and KRING_SERVER is set to
    it, which is where kringctl goes by default;
  - PATH starts with a folder holding `kringctl` (the build's, from
    KRING_KRINGCTL) and with GOBIN, so that what the examples install with
    `go install` is found; GOBIN, GOPATH, GOCACHE live under KRING_GO_CACHE
    (the build folder), so the module proxy is asked once per build folder;
  - the work folder holds `proto`, a link to the checkout's proto/ folder, for
    the commands proto/README.md runs from a checkout's root.

Environment: KRING_KRINGD, KRING_KRINGCTL (set by ctest), KRING_GO_CACHE.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "api.md", ROOT / "proto" / "README.md"]
DEFAULT_ADDRESS = "127.0.0.1:50051"
MARKER = re.compile(r"^<!-- example: (file|run|output|skip)(?: (.*?))? -->$")
RUN_SECONDS = 900  # one block; `go install` of grpcurl compiles a few hundred packages


class Example:
    def __init__(self, path, line, kind, argument, text, language):
        self.path, self.line, self.kind, self.argument = path, line, kind, argument
        self.text, self.language = text, language

    def where(self):
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def parse(path):
    """The marked blocks of a Markdown file, in order, and the sh blocks left unmarked."""
    lines = path.read_text(encoding="utf-8").split("\n")
    examples, unmarked = [], []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)$", lines[i])
        if not fence:
            i += 1
            continue
        language = fence.group(1)
        end = i + 1
        while end < len(lines) and lines[end] != "```":
            end += 1
        assert end < len(lines), f"{path}:{i + 1}: fence never closed"
        text = "\n".join(lines[i + 1 : end]) + "\n"
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        if marker:
            examples.append(Example(path, i + 1, marker.group(1), marker.group(2) or "", text, language))
        elif language == "sh":
            unmarked.append(f"{path.relative_to(ROOT)}:{i + 1}")
        i = end + 1
    return examples, unmarked


def expected_lines_found(expected, output):
    """None when every expected line is in `output` in order; else the first one missing."""
    actual = [line.rstrip() for line in output.split("\n")]
    at = 0
    for want in (line.rstrip() for line in expected.split("\n")):
        if not want:
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")) + r"\Z")
        while at < len(actual) and not pattern.match(actual[at]):
            at += 1
        if at == len(actual):
            return want
        at += 1
    return None


@pytest.fixture(scope="module")
def work():
    folder = Path(tempfile.mkdtemp(prefix="kring-api-examples-"))
    data, ready, log = folder / "kringd-data", folder / "kringd.ready", folder / "kringd.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen(
            [os.environ["KRING_KRINGD"], "--data-dir", str(data), "--listen", "127.0.0.1:0", "--ready-file", str(ready)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    address = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            address = json.loads(ready.read_text())["grpc"]
            break
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.05)
    if address is None:
        server.kill()
        raise RuntimeError("kringd did not start:\n" + log.read_text(errors="replace")[-4000:])

    examples = folder / "examples"
    examples.mkdir()
    (examples / "proto").symlink_to(ROOT / "proto")
    tools = folder / "bin"
    tools.mkdir()
    (tools / "kringctl").symlink_to(os.environ["KRING_KRINGCTL"])
    go_cache = Path(os.environ.get("KRING_GO_CACHE", folder / "go"))
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = dict(os.environ)
    env.update(
        KRING_SERVER=address,
        GOBIN=str(go_cache / "bin"),
        GOPATH=str(go_cache / "path"),
        GOCACHE=str(go_cache / "cache"),
        GOFLAGS="-modcacherw",
        PATH=os.pathsep.join([str(tools), str(go_cache / "bin"), os.path.dirname(go), env.get("PATH", "")]),
    )
    for name in ("KRING_TOKEN", "KRING_TOKEN_FILE", "KRING_PURPOSE", "KRING_TLS_CA"):
        env.pop(name, None)
    yield {"dir": examples, "address": address, "env": env, "log": log}
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(folder, ignore_errors=True)


def test_every_shell_block_is_marked():
    unmarked = [where for path in DOCS for where in parse(path)[1]]
    assert not unmarked, "```sh blocks without an <!-- example: ... --> marker: " + ", ".join(unmarked)


@pytest.mark.parametrize("doc", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_examples_run_as_written(work, doc):
    examples, _ = parse(doc)
    assert any(e.kind == "run" for e in examples), f"{doc}: no runnable example"
    last = None  # (example, output) of the last run block
    for e in examples:
        if e.kind == "skip":
            assert e.argument, f"{e.where()}: say why the example is skipped"
        elif e.kind == "file":
            assert e.argument and "/" not in e.argument, f"{e.where()}: file needs a plain name"
            (work["dir"] / e.argument).write_text(e.text, encoding="utf-8")
        elif e.kind == "run":
            expected_exit = 0
            if e.argument:
                m = re.fullmatch(r"exit=(\d+)", e.argument)
                assert m, f"{e.where()}: unknown run option {e.argument!r}"
                expected_exit = int(m.group(1))
            script = e.text.replace(DEFAULT_ADDRESS, work["address"])
            result = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", script],
                cwd=work["dir"],
                env=work["env"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=RUN_SECONDS,
            )
            output = result.stdout.decode("utf-8", errors="replace")
            assert result.returncode == expected_exit, (
                f"{e.where()}: exit {result.returncode}, the docs say {expected_exit}\n--- script\n{script}"
                f"--- output\n{output}"
            )
            last = (e, output)
        elif e.kind == "output":
            assert last is not None, f"{e.where()}: output without a run block before it"
            missing = expected_lines_found(e.text, last[1])
            assert missing is None, (
                f"{e.where()}: the output of {last[0].where()} lacks the line\n  {missing}\n--- output\n{last[1]}"
            )
            last = None


def test_output_matching_needs_every_line_in_order():
    output = "a 1\nb 2\nc 3\n"
    assert expected_lines_found("a 1\nc 3\n", output) is None
    assert expected_lines_found("a ...\nc 3", output) is None
    assert expected_lines_found("c 3\na 1\n", output) == "a 1"
    assert expected_lines_found("b 9\n", output) == "b 9"
    assert expected_lines_found("b\n", output) == "b", "a line matches whole, not as a prefix"
