"""The feeds' safety oracle: an allow-list HTML sanitiser (tags, attributes, absolute links).

Readers render entry content as HTML inside their own pages, so nothing that runs may pass:
no `<script>`/`<style>`/`<iframe>`, no `on*=` handlers, no `javascript:` URLs. Relative links
and images would point at the reader's own host, so they are resolved against the article.
The product never runs it: feed content is built from escaped text, and the tests hold
that content equal to what this sanitiser leaves of it.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser

from bot.core.text import strip_xml_invalid
from bot.site.markup import absolute_url

_ALLOWED_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "u",
        "ul",
    ]
)
_VOID_TAGS = frozenset({"br", "hr", "img"})
# Their text is code or chrome, never article prose: dropped with the element.
_DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"}
)
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})


def sanitize_html(fragment: str, base_url: str) -> str:
    """The fragment with only allowed markup left; relative URLs resolved against `base_url`."""
    cleaner = _Cleaner(base_url)
    cleaner.feed(strip_xml_invalid(fragment))
    cleaner.close()
    return cleaner.result()


class _Cleaner(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping: list[str] = []  # a dropped element's own nesting

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag == self.skipping[-1] or tag in _DROPPED_WITH_CONTENT:
                self.skipping.append(tag)
            return
        if tag in _DROPPED_WITH_CONTENT:
            self.skipping.append(tag)
            return
        if tag not in _ALLOWED_TAGS:
            return  # the tag goes, its text stays
        kept = self._attributes(tag, attrs)
        if tag == "img" and "src" not in kept:
            return
        shown = "".join(
            f' {name}="{html.escape(value, quote=True)}"' for name, value in kept.items()
        )
        self.out.append(f"<{tag}{shown}>")
        if tag not in _VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS and self.open and self.open[-1] == tag and not self.skipping:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag not in self.open:
            return
        while self.open:  # close what was left open inside it, so the output nests
            inner = self.open.pop()
            self.out.append(f"</{inner}>")
            if inner == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> dict[str, str]:
        allowed = _ALLOWED_ATTRIBUTES.get(tag, set())
        kept: dict[str, str] = {}
        for name, value in attrs:
            if name not in allowed or value is None:
                continue  # on*=, style=, class= and friends never pass
            if name in _URL_ATTRIBUTES:
                url = absolute_url(value, self.base_url)
                if url is None:
                    continue
                value = url
            kept[name] = strip_xml_invalid(value)
        return kept
