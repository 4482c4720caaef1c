"""Markup in feed text: whether a text must be declared HTML, and which links may be kept.

Feed content is built from escaped text, so it needs no sanitiser; links from articles (a
thumbnail, a permalink) pass only as absolute http(s) or mailto URLs. Pure.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from bot.core.text import strip_xml_invalid

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_MARKUP = re.compile(r"<[A-Za-z/!]|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")
# An absolute http(s) URL that parsing gives back unchanged: a plain host, and a path with no
# parameters, query, fragment, space or control character (most links articles give).
_PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:/[A-Za-z0-9._~!$&'()*+,=:@%/-]*)?"
)


def has_markup(text: str) -> bool:
    """Whether `text` holds tags or entities, i.e. must be declared `type="html"` in Atom."""
    return bool(_MARKUP.search(text))


def absolute_url(url: str, base_url: str) -> str | None:
    """`url` resolved against `base_url` if it is http(s) or mailto, else None."""
    cleaned = strip_xml_invalid(url).strip()
    if _PLAIN_ABSOLUTE.fullmatch(cleaned):  # what urljoin returns for it: no parsing twice
        return cleaned
    joined = urljoin(base_url, cleaned)
    parts = urlsplit(joined)
    if parts.scheme.lower() not in _SAFE_SCHEMES:
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return joined
