"""`glm-harness report`: one self-contained HTML page of runs, comparisons and nights.

`build_page` turns any mix of bench, contract, compare, proxy and agent-bench reports into one
page; `build_trend_page` turns the nightly's reports of several models and nights into its trend
page. Both return the page's text: scrubbed, escaped, with everything inline (`_text.POLICY`
forbids the page to fetch anything).
"""

from .inputs import Input, read
from .render import build_page
from .trend import build_trend_page

__all__ = ["Input", "build_page", "build_trend_page", "read"]
