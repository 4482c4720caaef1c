"""Permalinks: the public URL of an article (its own, Jekyll's pattern for posts, or the page
the daemon serves), and whether the site's base URL is the daemon itself.

Pure: from the article and the site's settings only.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit

from bot.core.articles import without_extension
from bot.core.model import Article

DEFAULT_PERMALINK = "/:categories/:year/:month/:day/:title.html"

# Jekyll's Utils.slugify: 'default' mode keeps letters and digits, 'pretty' mode (used for
# :title) also keeps _.~!$&'()+,;=@ ("The _config.yml file" -> "The-_config.yml-file");
# every other run becomes one '-'.
_SLUG_DEFAULT_RE = re.compile(r"[\W_]+")
_SLUG_PRETTY_RE = re.compile(r"[^\w.~!$&'()+,;=@]+")


def article_url(article: Article, base_url: str, pattern: str = DEFAULT_PERMALINK) -> str:
    """The article's public URL: its permalink, Jekyll's permalink pattern for posts, or the
    page the daemon serves for other files."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    if article.permalink:
        path = article.permalink
    elif article.format == "jekyll":
        path = re.sub(r"/{2,}", "/", _expand(pattern or DEFAULT_PERMALINK, article))
    else:  # the whole relative path keeps 'a.md' and 'a.zh-Hant.md' apart
        path = "articles/" + (without_extension(article.path) or article.path) + ".html"
    # Appended, not urljoin()ed: a ':' in the first segment must not read as a URL scheme.
    return base + _escape(path.lstrip("/"))


def page_url(base_url: str, uid: str) -> str:
    """The page the daemon serves for the article with this uid."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return f"{base}article/{quote(uid, safe='')}.html"


_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})


def is_daemon_url(base_url: str, bind: str) -> bool:
    """Whether `base_url` is the daemon itself rather than the user's site: its port is the
    one the daemon listens on (`http.bind`), and its host is a loopback address or
    `localhost`, the bound host, or any host when the daemon listens on every address. Then
    a Jekyll permalink would 404 there; the article's own page is the link."""
    parts = urlsplit(base_url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    bind_host, _, bind_port = bind.rpartition(":")
    if port is None or str(port) != bind_port:
        return False
    host = (parts.hostname or "").lower()
    bound = bind_host.strip("[]").lower()
    return host == bound or bound in _WILDCARD_HOSTS or host == "localhost" or _loopback(host)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _expand(pattern: str, article: Article) -> str:
    when = article.published
    categories = [*_dir_categories(article.path), *article.categories]
    seen = dict.fromkeys(name.lower() for name in categories)  # a set in order: linear
    values = {
        "categories": "/".join(seen),
        "year": f"{when.year:04d}",
        "month": f"{when.month:02d}",
        "day": f"{when.day:02d}",
        "i_month": str(when.month),
        "i_day": str(when.day),
        "short_year": f"{when.year % 100:02d}",
        "hour": f"{when.hour:02d}",
        "minute": f"{when.minute:02d}",
        "second": f"{when.second:02d}",
        "title": _SLUG_PRETTY_RE.sub("-", article.slug).strip("-"),
        "slug": _SLUG_DEFAULT_RE.sub("-", article.slug).strip("-").lower(),
        "name": article.slug,
        "output_ext": ".html",
    }
    return re.sub(r":([a-z_]+)", lambda m: values.get(m[1], m[0]), pattern)


def _dir_categories(path: str) -> list[str]:
    """Jekyll adds the folders above '_posts' as categories."""
    parts = path.split("/")[:-1]
    return parts[: parts.index("_posts")] if "_posts" in parts else []


def _escape(path: str) -> str:
    return quote(path, safe="/:@!$&'()*+,;=-._~%")
