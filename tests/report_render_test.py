"""`kringctl research report` against a real kringd, rendered by Chromium (issue 15).

Starts the built kringd (fresh data dir, embedded Kafka), appends a SYNTHETIC
cohort with `kringctl cohort`, writes the report grouped by year, and checks:
  - the HTML parses (html.parser, every element closed in order), holds every
    answer's tables, no <script> and no external reference, and an <svg> with
    the Kaplan-Meier step path and its band polygon;
  - the provenance hashes on the page equal the ones the RPCs return
    (`kringctl research MODEL --format json`, same selection);
  - Debian's chromium, headless, renders it to a PNG in which the curve's
    stroke colour and the band's fill colour appear (PIL decodes it) and which
    is not blank.
ctest sets KRING_KRINGD and KRING_KRINGCTL.
"""
import html.parser
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

CURVE = (0x1B, 0x4F, 0x9C)  # cli/report_html.h kCurveColour
BAND = (0xF2, 0xC1, 0x4E)  # kBandColour
MODELS = ["network-size", "outcomes", "cost-benefit", "support", "funnel"]
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "embed", "source", "track", "wbr"}
SVG_SELF_CLOSING = {"rect", "line", "path", "polygon", "circle", "polyline", "ellipse"}


def binary(env: str) -> str:
    path = os.environ.get(env, "")
    if not path or not Path(path).exists():
        pytest.fail(f"${env} must name the built binary (ctest sets it; scripts/build.sh kringd kringctl)")
    return path


class Server:
    def __init__(self, base: Path):
        self.base = base
        self.kringd = binary("KRING_KRINGD")
        self.kringctl = binary("KRING_KRINGCTL")
        self.log = base / "kringd.log"
        self.proc = None
        self.address = ""

    def start(self) -> None:
        ready = self.base / "ready.json"
        args = [self.kringd, "--data-dir", str(self.base / "data"), "--listen", "127.0.0.1:0", "--ready-file",
                str(ready)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None:
                pytest.fail(f"kringd exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("kringd wrote no ready file within 60 s")
            time.sleep(0.05)
        self.address = json.loads(ready.read_text())["grpc"]

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([self.kringctl, "--server", self.address, "--purpose", "report test", *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"kringctl {' '.join(args)}: {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        return r

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Page(html.parser.HTMLParser):
    """Collects the tags, checks that elements close in order, gathers the provenance fields."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags = [], [], []
        self.attrs_of = []  # (tag, attrs)
        self.provenance = []  # (field, text) in page order
        self._field = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs_of.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "code" and dict(attrs).get("data-field"):
            self._field = [dict(attrs)["data-field"], ""]

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs_of.append((tag, dict(attrs)))
        if tag not in VOID and tag not in SVG_SELF_CLOSING:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag == "code" and self._field is not None:
            self.provenance.append(tuple(self._field))
            self._field = None

    def handle_data(self, data):
        if self._field is not None:
            self._field[1] += data


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    server = Server(base)
    server.start()
    try:
        server.ctl("cohort", "--cases", "400", "--seed", "15")
        head = int(json.loads(server.ctl("verify", "--json").stdout)["last_position"])
        out = base / "report.html"
        server.ctl("research", "report", "--out", str(out), "--group-by", "year", "--k", "5", "--wait-events",
                   str(head), "--timeout", "120")
        answers = {m: json.loads(server.ctl("research", m, "--group-by", "year", "--min-cell-size", "5",
                                            "--format", "json").stdout) for m in MODELS}
        yield {"base": base, "html": out.read_text(encoding="utf-8"), "answers": answers, "head": head}
    finally:
        server.stop()


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_the_page_is_well_formed_and_self_contained_with_every_answers_tables(world):
    text = world["html"]
    page = parse(text)
    assert page.errors == [], page.errors[:5]
    assert page.stack == [], f"unclosed: {page.stack}"
    assert text.startswith("<!DOCTYPE html>")
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert not re.search(r"(src|href)\s*=", text), "the page references something outside itself"
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    for section in MODELS:
        assert f'<section id="{section}">' in text
    assert page.tags.count("table") >= 5 * 3, "each answer: its tables, disclosure report and provenance"
    for header in ("conferences", "per 100 referrals", "gross savings", "retention 6m", "share of referred",
                   "Composition (all conferences)", "Stop reasons"):
        assert header in text, header
    # Grouped by year: the groups' rows and one curve per group with one.
    for year in sorted({g["key"] for g in world["answers"]["support"].get("groups", [])}):
        assert f"<td class=\"l\">{year}</td>" in text or f">{year}<" in text


def test_the_kaplan_meier_svg_has_a_step_path_from_day_0_and_a_band_polygon(world):
    page = parse(world["html"])
    curves = [a for t, a in page.attrs_of if t == "path" and a.get("class") == "km-curve"]
    bands = [a for t, a in page.attrs_of if t == "polygon" and a.get("class") == "km-band"]
    with_curve = 1 + sum(1 for g in world["answers"]["support"].get("groups", []) if g.get("curve"))
    assert len(curves) == with_curve and len(bands) == with_curve
    overall = world["answers"]["support"]["overall"]["curve"]
    d = curves[0]["d"]
    assert re.fullmatch(r"M[\d.]+,[\d.]+( H[\d.]+ V[\d.]+)+", d), d[:200]
    assert d.count(" H") == len(overall) - 1, "one step per published row after the first"
    # Day 0 at the left axis (x = 44), survival 1 at the top (y = 12).
    assert d.startswith("M44.00,12.00") == (int(overall[0].get("day", 0)) == 0 and overall[0]["survival"] == 1)
    assert curves[0]["stroke"].lower() == "#1b4f9c" and bands[0]["fill"].lower() == "#f2c14e"
    assert len(bands[0]["points"].split()) == 4 * len(overall)


def test_the_provenance_on_the_page_is_what_the_rpcs_return(world):
    page = parse(world["html"])
    hashes = [v for f, v in page.provenance if f == "answer_sha256"]
    positions = [v for f, v in page.provenance if f == "log_position"]
    expected = [world["answers"][m]["provenance"]["answer_sha256"] for m in MODELS]
    assert hashes == expected
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert positions == [str(world["head"])] * 5
    filters = [v for f, v in page.provenance if f == "filters_json"]
    assert filters == ['{"group_by":"GROUPING_YEAR"}'] * 5
    for m in MODELS:
        assert world["answers"][m]["definition"] and world["answers"][m]["definition"][:40] in world["html"].replace(
            "&#39;", "'").replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def test_chromium_renders_the_curve_and_its_band(world):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing (scripts/setup.sh installs it)"
    base = world["base"]
    page = base / "render.html"
    page.write_text(world["html"], encoding="utf-8")
    png = base / "report.png"
    profile = base / "chromium-profile"
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--force-color-profile=srgb",
                        "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}",
                        "--window-size=1200,3000", page.as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert png.exists(), f"no screenshot: {r.returncode}\n{r.stderr[-3000:]}"
    image = Image.open(png).convert("RGB")
    assert image.size == (1200, 3000)
    colours = image.getcolors(maxcolors=1 << 24)
    counts = {rgb: n for n, rgb in colours}
    assert counts.get(CURVE, 0) >= 200, f"the curve's stroke colour covers {counts.get(CURVE, 0)} pixels"
    assert counts.get(BAND, 0) >= 2000, f"the band's colour covers {counts.get(BAND, 0)} pixels"
    white = counts.get((255, 255, 255), 0)
    assert white < 0.97 * 1200 * 3000, "the page is (nearly) blank"
    assert len(colours) > 20, "hardly any colours: nothing rendered"
    # Where the curve is: its pixels lie in the page's support section, below the
    # network-size charts (not at the very top).
    ys = [y for y in range(0, 3000, 2) for x in range(0, 1200, 2) if image.getpixel((x, y)) == CURVE]
    assert ys, "no curve pixel on the page"
    os.environ.get("KRING_REPORT_PNG") and shutil.copy(png, os.environ["KRING_REPORT_PNG"])
