"""Escaping, number formatting and the page's shell (its style, its script, its policy).

Everything a report says reaches the page through `esc`: scrubbed of the key (harness.scrub),
then HTML-escaped, quotes included, so it is text in an element or an attribute and never
markup. The page's one script and one stylesheet are constants here; the Content-Security-Policy
allows exactly those two (by hash) and nothing else: no other script runs, no request leaves
the page, even if a report's text slipped through unescaped.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from typing import Any

from ..scrub import scrub_text


def esc(value: Any) -> str:
    return html.escape(scrub_text(str(value)), quote=True)


def num(value: float | None, digits: int | None = None) -> str:
    """A figure as people read it; None (unknown) is "-", never 0."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if digits is not None:
        return f"{value:,.{digits}f}"
    if value == int(value) and abs(value) < 1e6:
        return f"{int(value):,}"
    if abs(value) < 1:
        return f"{value:.3g}"
    if abs(value) < 10:
        return f"{value:.2f}"
    return f"{value:,.1f}"


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24}
body{margin:0 auto;max-width:1100px;padding:0 16px 48px}
h1{font-size:22px;margin:20px 0 4px}
h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:20px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-weight:600;padding:8px 12px;border-radius:6px;margin:10px 0}
.verdict.bad{background:#ffebe9;color:#82071e;border:1px solid #ff8182}
.verdict.good{background:#dafbe1;color:#116329;border:1px solid #4ac26b}
.verdict.warn{background:#fff8c5;color:#7d4e00;border:1px solid #d4a72c}
tr.worse td,td.worse,span.worse{background:#ffebe9;color:#82071e}
tr.better td,td.better,span.better{background:#dafbe1;color:#116329}
td.same,td.not-tested{color:#57606a}
span.tag{font-size:12px;padding:1px 6px;border-radius:10px;border:1px solid #d0d7de}
span.bound{background:#fff8c5;color:#7d4e00;font-weight:600}
figure.chart{margin:8px 0 16px;max-width:660px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:0 16px}
table.failures{width:100%;table-layout:fixed}
table.failures td:nth-child(1){width:26%}
table.failures td:nth-child(2){width:14%}
td code{word-break:break-all}
figure.chart svg{width:100%;height:auto;background:#fff}
figcaption{font-size:12px;color:#57606a}
.plot{fill:#fff;stroke:#d0d7de}
.grid{stroke:#eaeef2}
.tick,.legend,.axis-label{font-size:11px;fill:#424a53}
.pt{cursor:crosshair}
circle.pt.hot{stroke:#000;stroke-width:2}
#tip{position:fixed;pointer-events:none;display:none;z-index:9;max-width:420px}
#tip{background:#1b1f24;color:#fff;padding:3px 7px;border-radius:4px;font-size:12px}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#f6f8fa;padding:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;margin:2px 0}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:13px}
dl.meta dt{color:#57606a}
dl.meta dd{margin:0}
nav a{margin-right:12px}
.empty,.note{color:#57606a}
details{margin:4px 0}
""".strip()

# Hover: show a point's value next to the pointer. textContent only, never innerHTML.
SCRIPT = """
(function(){var tip=document.createElement('div');tip.id='tip';document.body.appendChild(tip);
var hot=null;function hide(){tip.style.display='none';if(hot){hot.classList.remove('hot');hot=null;}}
document.addEventListener('mouseover',function(e){var t=e.target.closest?e.target.closest('[data-tip]'):null;
if(!t){hide();return;}if(hot)hot.classList.remove('hot');hot=t;t.classList.add('hot');
tip.textContent=t.getAttribute('data-tip');tip.style.display='block';});
document.addEventListener('mousemove',function(e){if(tip.style.display==='block'){
tip.style.left=Math.min(e.clientX+14,window.innerWidth-tip.offsetWidth-8)+'px';tip.style.top=(e.clientY+14)+'px';}});
document.documentElement.classList.add('js');})();
""".strip()


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# default-src 'none': no fetch, no image, no font, no frame, no form target anywhere.
POLICY = (f"default-src 'none'; style-src {_sha256(STYLE)}; script-src {_sha256(SCRIPT)}; "
          "base-uri 'none'; form-action 'none'")


def page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="referrer" content="no-referrer">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
            f"<script>{SCRIPT}</script>\n</body></html>\n")
