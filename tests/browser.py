"""Render an HTML file in headless Chromium and report what a reader would hit.

Used by the report tests: no horizontal overflow of the page at a laptop width, no
console or resource errors, every table-of-contents anchor resolves, every image
decodes. Chromium comes from the OS packages (``.ci/run`` installs it as root, as it
installs SLURM); without it the tests skip, unless ``SEQLANTERN_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

_PROBE_HEAD = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  var t = e.target || {};
  window.__errors.push(String(e.message || t.src || t.href || 'error'));
}, true);
(function () {
  var orig = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.join.call(arguments, ' '));
    orig.apply(console, arguments);
  };
})();
</script>"""

_PROBE_TAIL = """<script>
window.addEventListener('load', function () {
  // at 'load' every image has loaded or failed: complete with a width = decoded
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var anchors = Array.prototype.slice.call(document.querySelectorAll('a[href^="#"]'));
  var missing = anchors.map(function (a) { return a.getAttribute('href').slice(1); })
    .filter(function (id) { return !document.getElementById(id); });
  var out = document.createElement('pre');
  out.id = '__probe';
  out.textContent = JSON.stringify({
    errors: window.__errors,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    width: window.innerWidth,
    images: imgs.length, bad_images: bad.length,
    toc_links: document.querySelectorAll('nav.toc a').length, missing_anchors: missing,
  });
  document.body.appendChild(out);
});
</script>"""


def available() -> bool:
    """Whether a Chromium is on PATH (so a longer test can probe only when it can)."""
    found = any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))
    if not found and os.environ.get("SEQLANTERN_REQUIRE_BROWSER") == "1":
        pytest.fail("SEQLANTERN_REQUIRE_BROWSER=1 but no chromium on PATH")
    return found


def chromium() -> str:
    """The Chromium binary, or skip (fail when the environment requires it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("SEQLANTERN_REQUIRE_BROWSER") == "1":
        pytest.fail("SEQLANTERN_REQUIRE_BROWSER=1 but no chromium on PATH")
    pytest.skip("no headless Chromium (apt-get install chromium)")


def probe(html_path: Path, *, width: int = 1280, height: int = 800) -> dict:
    """Load ``html_path`` (a copy with probe scripts added) and return the findings."""
    exe = chromium()
    doc = Path(html_path).read_text()
    head = doc.index("<head>") + len("<head>")
    tail = doc.rindex("</body>")
    probed = doc[:head] + _PROBE_HEAD + doc[head:tail] + _PROBE_TAIL + doc[tail:]
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "probe.html"
        page.write_text(probed)
        run = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
             "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    dom = run.stdout
    start = dom.find('<pre id="__probe">')
    assert start >= 0, f"the probe did not run: {run.stderr[-2000:]}"
    text = dom[start + len('<pre id="__probe">') : dom.index("</pre>", start)]
    return json.loads(text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
