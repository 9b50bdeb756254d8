"""report.html in a real browser: headless Chromium (Debian's ``chromium``; ``.ci/run`` installs
it) loads the page at 1400 px and at phone width, every image decodes, every table renders with
rows, nothing needs the network, and a screenshot is saved under the test's temporary folder.
Skipped, saying why, only where no Chromium can run here."""
import json
import re
import shutil
import subprocess

import pytest

from experiments.report import write_report

from . import report_runs as rr

CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "chrome")
# A probe appended to a copy of the page: after load it writes what the browser rendered into
# the DOM, which --dump-dom prints.
PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
    w: i.naturalWidth, shown: i.getBoundingClientRect().width}));
  const tables = [...document.querySelectorAll('table')].map(t => ({rows: t.rows.length,
    cols: t.rows.length ? t.rows[0].cells.length : 0, h: t.getBoundingClientRect().height,
    wrapped: [...t.querySelectorAll('td')].filter(td => td.getClientRects().length > 1 ||
      td.scrollHeight > 1.9 * parseFloat(getComputedStyle(td).lineHeight || 16)).length}));
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({imgs, tables, width: document.documentElement.clientWidth,
    scroll: document.documentElement.scrollWidth, external: [...document.querySelectorAll(
      '[src^="http"],[href^="http"],link[rel=stylesheet],script[src]')].length});
  document.body.appendChild(pre);
});</script>"""


def _chromium():
    exe = next((shutil.which(c) for c in CHROMIUMS if shutil.which(c)), None)
    if exe is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    try:
        r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                            "about:blank"], capture_output=True, text=True, timeout=90)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"Chromium at {exe} cannot start here ({type(e).__name__})")
    if r.returncode != 0 or "<html" not in r.stdout:
        pytest.skip(f"Chromium at {exe} cannot render here (exit {r.returncode}: "
                    f"{r.stderr.strip().splitlines()[-1][:160] if r.stderr.strip() else 'no output'})")
    return exe


def _render(exe, page, width, height, shot):
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--virtual-time-budget=5000", f"--window-size={width},{height}"]
    dom = subprocess.run(base + [f"--screenshot={shot}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, "the page's probe did not run: the browser did not finish loading it"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))


def test_report_renders_in_headless_chromium(tmp_path):
    exe = _chromium()
    out = tmp_path / "report"
    write_report([rr.algorithm_sweep(tmp_path / "algo")], out)
    page = out / "report.html"
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    for width, name in ((1400, "desktop"), (390, "phone")):
        shot = tmp_path / f"report-{name}.png"
        r = _render(exe, probed, width, 1600, shot)
        assert r["external"] == 0                                  # self-contained
        assert len(r["imgs"]) == 5 and all(i["ok"] for i in r["imgs"]), r["imgs"]
        if width >= 1000:                                          # desktop: images fit
            assert all(i["shown"] <= r["width"] + 1 for i in r["imgs"])
        else:                                     # phone: a readable size, scrolled in a box
            assert all(i["shown"] >= 600 for i in r["imgs"])
        assert len(r["tables"]) >= 3 and all(t["rows"] >= 2 and t["h"] > 0 for t in r["tables"])
        assert all(t["wrapped"] == 0 for t in r["tables"]), r["tables"]   # no value wrapped
        assert r["scroll"] <= r["width"] + 1                       # wide tables scroll in a box
        assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
