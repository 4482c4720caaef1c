"""Links kept in feeds: the fast path for plain absolute URLs gives what resolving them gives."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.text import strip_xml_invalid
from bot.site.markup import absolute_url

BASES = ("https://blog.example.org/", "http://blog.example.org/feeds/", "")


def _resolved(url: str, base_url: str) -> str | None:
    """absolute_url without its fast path: every URL resolved with urljoin."""
    joined = urljoin(base_url, strip_xml_invalid(url).strip())
    parts = urlsplit(joined)
    if parts.scheme.lower() not in ("http", "https", "mailto"):
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return joined


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org",
        "https://example.org/",
        "http://example.org:8080/a/b.html",
        "https://example.org/a/../b/./c",
        "https://example.org//double/slash",
        "https://example.org/a;params",
        "https://example.org/a?",
        "https://example.org/a?q=1#frag",
        "https://example.org/a#",
        "HTTPS://Example.org/A",
        "https://user@example.org/x",
        "https://[::1]/x",
        "https://例子.org/x",
        " https://example.org/x \n",
        "https://exa\tmple.org/x",
        "https:example.org/x",
        "https:/x",
        "//example.org/x",
        "/a b.html",
        "relative/path",
        "javascript:alert(1)",
        "mailto:someone@example.org",
        "https://example.org/%E4%BE%8B?x",
        "",
    ],
)
@pytest.mark.parametrize("base_url", BASES)
def test_absolute_url_as_resolved(url: str, base_url: str) -> None:
    assert absolute_url(url, base_url) == _resolved(url, base_url)


@settings(max_examples=300)
@given(
    st.sampled_from(["http://", "https://", "HTTP://", "https:", "//", "/", ""]),
    st.text(alphabet="abcXYZ019.-:@/;?#%&=~_[] \t\n\x00\x7f例", max_size=24),
    st.sampled_from(BASES),
)
def test_any_url_as_resolved(scheme: str, rest: str, base_url: str) -> None:
    url = scheme + rest
    try:
        expected = _resolved(url, base_url)
    except ValueError:  # urlsplit refuses some hosts (an unmatched bracket): so must we
        with pytest.raises(ValueError):
            absolute_url(url, base_url)
        return
    assert absolute_url(url, base_url) == expected
