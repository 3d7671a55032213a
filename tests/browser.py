"""Opening a report in a real headless browser: Debian's chromium, installed when missing.

:func:`open_page` loads a copy of the page with a probe script placed first in its head.
The probe records every script error, failed load and Content-Security-Policy violation
from the start, and once the page has loaded writes into the DOM, as JSON: the errors,
how many charts the page declares and which have drawn (plotly gives each drawn chart an
``svg.main-svg``), the document's title, its images and the charts' y-axis labels as drawn. ``chromium --dump-dom`` prints
that DOM, so the test reads what the browser did, not what the page claims.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from filelock import FileLock

_INSTALL_LOCK = Path(tempfile.gettempdir()) / "autopilot-tests-chromium.lock"
_PROBE = """<script>
(function () {
  var errors = [];
  function note(text) { errors.push(String(text)); }
  window.addEventListener("error", function (e) {
    if (e instanceof ErrorEvent) { note(e.message + " at " + e.filename + ":" + e.lineno); }
    else { note("failed to load " + (e.target && (e.target.src || e.target.href || e.target.tagName))); }
  }, true);
  window.addEventListener("unhandledrejection", function (e) { note("unhandled rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) {
    note("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
  });
  // Sort the verdict table by one column (twice), then filter it by words and by a tag,
  // as a person would, and record what stayed visible.
  function exercise(settings) {
    var table = document.getElementById("verdicts");
    if (!settings || table === null) { return null; }
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var column = heads.findIndex(function (h) { return h.textContent === settings.sort; });
    var rows = function () { return Array.prototype.slice.call(table.tBodies[0].rows); };
    var keys = function () {
      return rows().map(function (r) { return r.cells[column].getAttribute("data-sort"); });
    };
    var visible = function () {
      return rows().filter(function (r) { return !r.hidden; })
        .map(function (r) { return r.cells[0].textContent; });
    };
    heads[column].click();
    var ascending = keys();
    heads[column].click();
    var descending = keys();
    var bar = document.querySelector("[data-filter-for='verdicts']");
    var input = bar.querySelector("input"), select = bar.querySelector("select");
    input.value = settings.words;
    input.dispatchEvent(new Event("input"));
    var byWords = visible(), shown = bar.querySelector(".shown").textContent;
    input.value = "";
    input.dispatchEvent(new Event("input"));
    select.value = settings.tag;
    select.dispatchEvent(new Event("change"));
    return {ascending: ascending, descending: descending, by_words: byWords, shown: shown,
            by_tag: visible()};
  }
  window.addEventListener("load", function () {
    setTimeout(function () {
      var table = null;
      try { table = exercise(window.__probeTable); } catch (e) { note("exercise: " + e); }
      var charts = Array.prototype.map.call(
        document.querySelectorAll("script[data-chart]"),
        function (node) { return node.getAttribute("data-chart"); });
      var drawn = charts.filter(function (id) {
        var div = document.getElementById(id);
        return div !== null && div.querySelector("svg.main-svg") !== null;
      });
      var out = document.createElement("pre");
      out.id = "probe-result";
      out.textContent = JSON.stringify({
        errors: errors, charts: charts, drawn: drawn, title: document.title,
        images: document.images.length, pwned: window.__pwned === true,
        ticks: Array.prototype.map.call(document.querySelectorAll("g.ytick text"),
          function (node) { return node.textContent; }),
        table: table
      });
      document.body.appendChild(out);
    }, 1000);
  });
})();
</script>"""
_RESULT = re.compile(r'<pre id="probe-result">(.*?)</pre>', re.DOTALL)


def ensure_chromium() -> str:
    """The path of ``chromium``, installed with apt-get when missing.

    Raises
    ------
    RuntimeError
        It is missing and could not be installed (the message says why).
    """
    found = shutil.which("chromium")
    if found:
        return found
    with FileLock(str(_INSTALL_LOCK)):  # one installer at a time across test workers
        found = shutil.which("chromium")
        if found:
            return found
        if shutil.which("apt-get") is None:
            raise RuntimeError("chromium is missing and there is no apt-get to install it")
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
        ):
            done = subprocess.run(
                command, capture_output=True, text=True, env=environment, timeout=1200
            )
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("apt-get installed chromium but it is not on the PATH")
    return found


def open_page(chromium: str, page: Path, work: Path, table: dict | None = None) -> dict:
    """What a headless chromium saw loading ``page``: the probe's result (see the module).

    ``table``, if given, has the probe sort the verdict table by the column headed
    ``table["sort"]`` and filter it by ``table["words"]`` and by ``table["tag"]``; the
    result's ``table`` then holds the column's sort keys after one click and after two,
    the first cells of the rows left by the words and by the tag, and the count shown.
    """
    text = page.read_text(encoding="utf-8")
    probed = work / f"probed-{page.name}"
    settings = json.dumps(table).replace("<", "\\u003c")
    head = f"<head>\n<script>window.__probeTable = {settings};</script>\n{_PROBE}"
    probed.write_text(text.replace("<head>", head, 1), encoding="utf-8")
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={work / 'chromium-profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = _RESULT.search(done.stdout)
    assert found, f"no probe result (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(html.unescape(found.group(1)))
