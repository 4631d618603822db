"""The page itself: one HTML document with the page data as JSON and every script and style
inlined (vendored uPlot and three.js, nerfspec's static/*.js and report.css), so it opens from disk."""

from __future__ import annotations

import html
import json
from importlib import resources

PAGE_SCRIPTS = ("ui.js", "mesh.js", "compare.js", "report.js")  # in this order: each uses the ones before


def package_text(folder: str, name: str) -> str:
    """A text file shipped in nerfspec/report/<folder>/."""
    return resources.files("nerfspec.report").joinpath(folder, name).read_text(encoding="utf-8")


def script_safe(code: str) -> str:
    """Code that cannot end its <script> element early: '</' (as in '</script') -> '<\\/'."""
    return code.replace("</", "<\\/")


def json_for_html(data: dict) -> str:
    """JSON (no NaN) that is safe inside <script type="application/json">: every '<' escaped."""
    return json.dumps(data, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")


def render_html(data: dict, with_mesh_viewer: bool) -> str:
    """The whole page for ``data`` (see ``nerfspec.report.page``); three.js only when there are meshes."""
    scripts = [package_text("vendor", "uPlot.iife.min.js")]
    if with_mesh_viewer:
        scripts.append(package_text("vendor", "three-viewer.min.js"))
    scripts += [package_text("static", name) for name in PAGE_SCRIPTS]
    styles = package_text("vendor", "uPlot.min.css") + "\n" + package_text("static", "report.css")
    body_scripts = "\n".join(f"<script>{script_safe(code)}</script>" for code in scripts)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nerfspec {html.escape(str(data.get("version", "")))}">
<title>{html.escape(str(data.get("title", "nerfspec report")))} · nerfspec report</title>
<style>{script_safe(styles)}</style>
</head>
<body>
<div id="app"><noscript>This report is drawn by JavaScript; enable it to see the page.</noscript></div>
<script id="report-data" type="application/json">{json_for_html(data)}</script>
{body_scripts}
</body>
</html>
"""
