"""Model output and card text render as markdown that can never run: no script, handler or odd link."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiplatform.markdown import render_markdown

pytestmark = pytest.mark.smoke

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<iframe src=https://example.com></iframe>",
    "![x](https://elsewhere.example/leak?q=secret)",
    "<style>body{display:none}</style>",
    "[x](https://ok.example \"t\" onmouseover=alert(1))",
]
SAFE_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
             "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}


class Runnable(HTMLParser):
    """Collects what a browser would act on: tags outside the allow-list, handlers, non-http(s) links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "src", "srcset", "formaction"):
                self.found.append(f"{tag}@{name}")
            if name == "href" and not (value or "").lower().startswith(("http://", "https://", "mailto:")):
                self.found.append(f"href={value}")


def runnable(html: str) -> list[str]:
    parser = Runnable()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("attack", ATTACKS)
def test_nothing_in_the_text_becomes_something_that_runs(attack):
    html = render_markdown(f"Here you go: {attack}\n\n> {attack}\n\n* {attack}")
    assert runnable(html) == [], html


def test_markdown_and_code_render():
    html = render_markdown("# Title\n\n**bold** and `code`\n\n```python\nprint('<b>')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<code class="language-python">print(\'&lt;b&gt;\')' in html
    assert "<table>" in html


def test_http_links_stay_and_open_safely():
    html = render_markdown("[docs](https://example.com/docs)")
    assert '<a href="https://example.com/docs" rel="noopener noreferrer nofollow">docs</a>' in html


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'=/:;()[]!*`#-_ \nabcjsvrptonlerhfi")), max_size=200))
def test_any_text_renders_to_nothing_runnable(text):
    assert runnable(render_markdown(text)) == []
