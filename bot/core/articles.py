"""Article parsing: the bytes of one file and its path become an Article.

Pure: the caller reads the file and passes its modification time and the site time zone.
The format is told from the content, never from the file extension.

One module (~700 lines): decoding, front matter, dates and title all serve parse_article and
its ArticleError; the URLs are in site/permalinks.
"""

from __future__ import annotations

import codecs
import dataclasses
import email.utils
import html
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache
from typing import Any

import yaml

from bot.core.errors import EventfeedError
from bot.core.model import Article
from bot.core.text import (
    HtmlText,
    detect_lang,
    han_chars,
    html_to_paragraphs,
    looks_like_html,
    markdown_to_paragraphs,
    split_sentences,
    strip_xml_invalid,
    to_traditional,
)

_MAX_TITLE = 200
# The author's one-paragraph deck: jekyll-seo-tag's description, Jekyll's excerpt, Hugo's summary.
_DECK_KEYS = ("description", "summary", "excerpt", "subtitle")


class ArticleError(EventfeedError, ValueError):
    """A file that cannot be read as an article; the message is a one-line reason."""


def parse_article(data: bytes, path: str, mtime: datetime, tz: tzinfo) -> Article:
    """Parse one file of the watched folder. Raises ArticleError with the reason."""
    text, encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    if encoding != "utf-8" or not _xml_safe_utf8(data):  # told faster from the bytes
        text = strip_xml_invalid(text)
    if not text.strip():
        raise ArticleError("empty file")
    slug, name_date = _slug_and_date(path)
    split = _split_front_matter(text)
    if split is not None:
        meta, body = split
        return _from_front_matter(meta, body, path, slug, name_date, mtime, tz, encoding)
    lang = None
    paragraphs: Sequence[str]
    if looks_like_html(text):
        page = clean_html(text)
        if not page.title:
            raise ArticleError("HTML without a <title> or <h1>")
        title, paragraphs, lang = page.title, page.paragraphs, page.lang
        published = _as_datetime(page.published, tz) if page.published else None
        fmt = "html"
    else:
        title, paragraphs = _title_and_body(clean_markdown(text))
        published = None
        fmt = "text"
    body = _join(paragraphs, title)
    return Article(
        path=path,
        title=title,
        text=body,
        lang=_lang_tag(lang, f"{title}\n{body}"),
        published=published or _fallback_time(name_date, mtime, tz),
        format=fmt,
        slug=slug,
        encoding=encoding,
        undated=published is None and name_date is None,
    )


# --- decoding ---------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"RIFF", "a RIFF media file"),
)
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# UTF-8 writes an ASCII character as its own byte and no other with a byte below 0x80: the
# bytes are searched for those characters (bytes.translate, a C loop) six times faster than the
# text by a pattern. The bytes other than the control characters of _CONTROL_RE:
_NOT_CONTROL_BYTES = bytes(
    b for b in range(256) if not (b <= 0x08 or 0x0E <= b <= 0x1F or b == 0x7F)
)
# The bytes other than the C0 controls XML cannot carry (strip_xml_invalid's; tab, LF, CR can be).
_NOT_XML_INVALID_BYTES = bytes(b for b in range(256) if not (b < 0x20 and b not in b"\t\n\r"))
# The most frequent Chinese characters (simplified; traditional forms are added below).
# Decoding Big5 bytes as GBK, or the reverse, gives rare characters instead.
_COMMON_HANS = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
    "家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本"
    "见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己"
    "话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平"
    "真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报"
    "立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务"
    "制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科"
    "怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运"
    "武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸"
    "钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似"
    "斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽讲布杀微怕母调局根"
    "曾准团段终乐切级克精哪官示冷域亿美元股票公司市场发布收购投资融资技术人工智能模型研究员签约"
)


@cache
def _common_han() -> frozenset[str]:
    return frozenset(_COMMON_HANS) | frozenset(to_traditional(_COMMON_HANS))


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes to text, returning (text, encoding). Raises ArticleError for binary data.
    The encoding is 'utf-8' only for bytes decoded strictly as UTF-8 without a mark."""
    if not data:
        raise ArticleError("empty file")
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise ArticleError(f"binary file ({kind}), not an article")
    for bom, name in _BOMS:
        if data.startswith(bom):
            return _checked(_strict(data, name), name)
    text = _strict(data, "utf-8")
    if text is not None and "\x00" not in text:  # NULs are valid UTF-8, and half of UTF-16
        if not data.translate(None, _NOT_CONTROL_BYTES):
            return text, "utf-8"  # no control character: nothing for _checked to count
        return _checked(text, "utf-8")
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    if b"\x00" in data:
        raise ArticleError("binary file (contains NUL bytes), not an article")
    chinese = _chinese_encoding(data)
    if chinese is not None:
        return chinese
    western = _western(data)
    if western is not None:
        return western
    return _checked(*_detected(data))


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _xml_safe_utf8(data: bytes) -> bool:
    """Whether text decoded from these UTF-8 bytes is sure to hold no character XML cannot
    carry: no C0 control but tab, LF and CR (each its own byte), no U+FFFE or U+FFFF (both
    open with EF BF; strict UTF-8 decoding refuses lone surrogates)."""
    return not data.translate(None, _NOT_XML_INVALID_BYTES) and b"\xef\xbf" not in data


def _checked(text: str | None, encoding: str) -> tuple[str, str]:
    if text is None:
        raise ArticleError(f"not valid {encoding} although it starts with a {encoding} mark")
    controls = len(_CONTROL_RE.findall(text[:8192]))
    if "\x00" in text or controls > max(2, len(text[:8192]) // 100):
        raise ArticleError("binary file (control characters), not an article")
    return text, encoding


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text nearly always has ASCII newlines and digits: NULs on one side of each pair."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        sample = sample[: len(sample) // 2 * 2]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    pairs = len(sample) // 2 or 1
    # A Han character such as 一 (U+4E00) has a NUL byte too, on the other side.
    if odd > pairs // 20 and even * 8 < odd:
        name = "utf-16-le"
    elif even > pairs // 20 and odd * 8 < even:
        name = "utf-16-be"
    else:
        return None
    text = _strict(data, name)
    return None if text is None else _checked(text, name)


def _chinese_encoding(data: bytes) -> tuple[str, str] | None:
    """GB18030 and Big5 both decode many byte strings; pick the one whose Han characters
    are common ones. charset detection alone misreads short Chinese texts."""
    common = _common_han()
    best: tuple[float, str, str] | None = None
    for name in ("gb18030", "big5"):
        text = _strict(data, name)
        if text is None:
            continue
        han = han_chars(text)
        if not han:
            continue
        share = sum(c in common for c in han) / len(han)
        if share >= 0.25 and (best is None or share > best[0]):
            best = (share, text, name)
    return None if best is None else _checked(best[1], best[2])


def _western(data: bytes) -> tuple[str, str] | None:
    """Mostly-ASCII text with a few high bytes ('£', 'é') is Windows-1252 far more often than
    anything else; detection guesses wrong on short texts like these."""
    high = sum(1 for b in data[:8192] if b > 0x7F)
    if high > len(data[:8192]) // 20:
        return None
    text = _strict(data, "cp1252")
    return None if text is None else _checked(text, "cp1252")


def _detected(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    match = from_bytes(data).best()
    if match is None:
        raise ArticleError("binary file (no text encoding fits), not an article")
    return str(match), str(match.encoding)


# --- boilerplate ------------------------------------------------------------------------

_VIDEO_TOKENS = (
    r"Unmute|Mute|Settings|Captions|Subtitles|Disabled|Enabled|Quality|Speed|Normal|Auto"
    r"|Go back to previous menu|\d{3,4}p|SD|HD|4K|\d+(?:\.\d+)?×|PIP|Picture-in-Picture"
    r"|Exit fullscreen|Enter fullscreen|Fullscreen|Play|Pause|Replay|Volume|Live"
)
# What scraping left behind, one entry per kind: (name, words one of which must occur in the
# text, in any case, for the pattern to be worth running, pattern matching the whole unwanted
# run). A word is in every match but 'http' ('a link to the original' needs one in the text),
# and as rare as can be: a pass of a line pattern costs ten times a search for a word. No word
# of a case-insensitive pattern holds 'i', 'k' or 's', which it also matches as 'ı', 'K', 'ſ'.
BOILERPLATE: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    (
        "kramdown table of contents",
        ("{:", "[toc]"),
        re.compile(
            r"^[ \t]*[*-][ \t]+(?:content|contents|toc|目录|目錄)[ \t]*\n(?:[ \t]*\n)*"
            r"[ \t]*\{:\s*toc\s*\}[ \t]*$|^[ \t]*(?:\{:\s*toc\s*\}|\[toc\])[ \t]*$",
            re.M | re.I,
        ),
    ),
    (
        "video player controls",
        ("mute",),
        re.compile(  # the lookahead lets the engine pass over most positions cheaply
            rf"(?=[\dUM])(?:\d{{1,2}}:\d{{2}}(?::\d{{2}})?[ \t]*)?(?:Unmute|Mute)"
            rf"(?:{_VIDEO_TOKENS}|[ \t])+(?![a-z])"  # 'PlayAutomakers' keeps 'Automakers'
        ),
    ),
    (
        "platform disclaimer",
        ("聲明", "声明", "notice"),
        re.compile(
            r"^[ \t]*(?:特別聲明|特别声明|免責聲明|免责声明|Notice: The content above)"
            r".*(?:\n(?![ \t]*\n).*)*",
            re.M,
        ),
    ),
    (
        "see more",
        ("ee more", "read more", "how more", "全文", "更多"),
        re.compile(
            # An image may stand before it on its line (a card's picture, then its button).
            r"^[ \t]*(?:!\[[^\]\n]*\]\([^)\s]*\)[ \t]*)*"
            r"(?:See more|Read more|Show more|展开全文|展開全文|查看更多|阅读全文|閱讀全文)"
            r"[ \t.…>»]*$",
            re.M | re.I,
        ),
    ),
    (
        "link to the original",
        ("http",),
        re.compile(
            r"^[ \t>*_]*(?:原文|原文链接|原文連結|原文地址|来源|來源|Source|Via)[ \t]*[:：][ \t]*"
            r"(?:<https?://[^>\s]+>|\[[^\]\n]*\]\([^)\s]*\)|https?://\S+)[ \t*_]*$",
            re.M | re.I,
        ),
    ),
    (
        "image-only line",
        ("http",),
        re.compile(
            r"^[ \t]*https?://\S+\.(?:png|jpe?g|gif|webp|svg)(?:[?@]\S*)?[ \t]*$", re.M | re.I
        ),
    ),
)


# Each entry's words: those of ASCII characters lowered as bytes, the others as they are.
_BOILERPLATE_WORDS = tuple(
    (
        tuple(w.lower().encode() for w in words if w.isascii()),
        tuple(w for w in words if not w.isascii()),
        pattern,
    )
    for _, words, pattern in BOILERPLATE
)


def remove_boilerplate(text: str) -> str:
    """Remove scraping debris (BOILERPLATE); real text glued to it is kept."""
    # The words are sought in the text's ASCII characters lowered, the others made '?': what
    # `text.lower()` gives for them (only 'İ' and 'K' lower to ASCII: to 'i̇' and 'k'), at a
    # third of its cost. Words of other characters have no case.
    lowered = text.encode("ascii", "replace").lower()
    for ascii_words, other_words, pattern in _BOILERPLATE_WORDS:  # (map: no generator frames)
        if any(map(lowered.__contains__, ascii_words)) or any(map(text.__contains__, other_words)):
            text = pattern.sub("", text)
    return text


def clean_markdown(text: str) -> list[str]:
    """Paragraphs of a Markdown or plain-text body, boilerplate removed."""
    return markdown_to_paragraphs(remove_boilerplate(text))


def clean_html(text: str) -> HtmlText:
    """Headline, paragraphs, published time and language of an HTML document or body."""
    found = html_to_paragraphs(text)
    kept = remove_boilerplate("\n\n".join(found.paragraphs)).split("\n\n")
    paragraphs = tuple(p.strip() for p in kept if p.strip())
    return dataclasses.replace(found, paragraphs=paragraphs)


# --- front matter -------------------------------------------------------------------------

_FENCES = {"---": "yaml", "+++": "toml"}
# yaml.safe_load's loader (SafeConstructor: plain data only), in C when PyYAML was built with
# libyaml: the pure-Python one costs ~0.5 ms per front matter, the C one a tenth of that.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Values aliases may add to a front matter: nine levels of nine aliases (438 bytes) stand
# for 387 million values, which anything walking the data (categories, tags) would visit.
MAX_ALIAS_EXPANSION = 10_000


class _FrontMatterLoader(_SAFE_LOADER):  # type: ignore[misc]
    """The safe loader, refusing a document whose aliases expand it too much: the check
    runs on the composed node graph (shared nodes counted once: linear), before anything
    walks the data."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return self.construct_document(node)


def _check_expansion(root: yaml.Node) -> None:
    """Raise ArticleError when the aliases in `root` add more than MAX_ALIAS_EXPANSION
    values or refer to themselves. Iterative, each node once."""
    size: dict[int, int] = {}  # id(node) → values in its expansion
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(kid)] for kid in kids)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise ArticleError("front matter has an alias inside its own anchor")
        distinct += 1
        open_nodes.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in open_nodes:
                raise ArticleError("front matter has an alias inside its own anchor")
            if id(kid) not in size:
                stack.append((kid, False))
    if size[id(root)] - distinct > MAX_ALIAS_EXPANSION:
        raise ArticleError(
            f"front matter aliases expand to more than {MAX_ALIAS_EXPANSION} values "
            "(an alias bomb?)"
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _split_front_matter(text: str) -> tuple[dict[str, Any], str] | None:
    """Front matter between '---' lines (YAML) or '+++' lines (TOML), at the top of the file."""
    stripped = text.lstrip("\n \t")
    first, _, rest = stripped.partition("\n")
    kind = _FENCES.get(first.rstrip())
    if kind is None:
        return None
    fence = first.rstrip()
    closers = (fence, "...") if kind == "yaml" else (fence,)
    start = 0  # of each line of `rest` in turn: the body's lines are never split apart
    while True:
        end = rest.find("\n", start)
        line = rest[start:] if end < 0 else rest[start:end]
        if line.rstrip() in closers:
            head = rest[: max(start - 1, 0)]  # the lines before, without the last line break
            body = "" if end < 0 else rest[end + 1 :]
            return _load_meta(head, kind), body
        if end < 0:
            break
        start = end + 1
    if kind == "yaml" and ":" not in rest.partition("\n")[0]:
        return None  # a Markdown rule at the top, not front matter
    raise ArticleError(f"front matter opened with '{fence}' is never closed")


def _load_meta(head: str, kind: str) -> dict[str, Any]:
    meta: Any
    if kind == "toml":
        try:
            meta = tomllib.loads(head)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise ArticleError(f"front matter is not valid TOML: {_one_line(str(exc))}") from None
    else:
        try:
            # Safe, in C when built; the alias check only where an alias can be ('*').
            meta = yaml.load(head, Loader=_FrontMatterLoader if "*" in head else _SAFE_LOADER)
        except ArticleError:  # an alias bomb: already worded
            raise
        # Impossible dates ('2025-02-30') fail in the constructor with a ValueError.
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
            raise ArticleError(f"front matter is not valid YAML: {_yaml_reason(exc)}") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ArticleError(f"front matter is not a mapping of keys (got {type(meta).__name__})")
    return {str(k).lower(): v for k, v in meta.items()}


def _yaml_reason(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        # problem_mark counts from 0 within the front matter, which starts after '---'.
        return f"{exc.problem} at line {exc.problem_mark.line + 2}"
    return " ".join(str(exc).split())


def _from_front_matter(
    meta: dict[str, Any],
    body: str,
    path: str,
    slug: str,
    name_date: date | None,
    mtime: datetime,
    tz: tzinfo,
    encoding: str,
) -> Article:
    paragraphs: Sequence[str]
    if looks_like_html(body):
        page = clean_html(body)
        heading, paragraphs = page.title, page.paragraphs
    else:
        paragraphs = clean_markdown(body)
        heading = None
    title = _one_line(_first_str(meta, "title")) or heading
    if not title and paragraphs and _is_heading_like(paragraphs[0]):
        title, paragraphs = paragraphs[0], paragraphs[1:]
    if not title:
        raise ArticleError("front matter has no title and the body no heading")
    title = _one_line(title)
    text = _join(paragraphs, title)
    published = None
    for key in ("date", "published", "publishdate", "pubdate", "created"):
        if key in meta:
            published = _as_datetime(meta[key], tz)
            if published is not None:
                break
    lang = _lang_tag(_first_str(meta, "lang", "language", "locale"), f"{title}\n{text}")
    return Article(
        path=path,
        title=title,
        text=text,
        lang=lang,
        published=published or _fallback_time(name_date, mtime, tz),
        format="jekyll",
        slug=slug,
        categories=_names(meta.get("categories"), split=True) or _names(meta.get("category")),
        tags=_names(meta.get("tags"), split=True) or _names(meta.get("tag")),
        author=_author(meta.get("author") or meta.get("authors")),
        thumbnail=_image(meta),
        permalink=_first_str(meta, "permalink"),
        feed_id=_first_str(meta, "feed_id", "id", "uuid", "guid"),
        encoding=encoding,
        undated=published is None and name_date is None,
        description=_deck(meta),
    )


def _first_str(meta: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
    return None


def _deck(meta: Mapping[str, Any]) -> str | None:
    """The description as one line of plain text: Markdown, tags and entities read."""
    raw = _first_str(meta, *_DECK_KEYS)
    return " ".join(clean_markdown(raw)) or None if raw else None


def _one_line(value: str | None) -> str:
    return " ".join(html.unescape(value).split()) if value else ""


def _names(value: Any, split: bool = False) -> tuple[str, ...]:
    """Categories or tags: a string (space-separated when `split`, Jekyll's plural keys),
    a list, or nested lists (Hexo hierarchies)."""
    if value is None or isinstance(value, bool):
        return ()
    if isinstance(value, (str, int, float)):
        parts = str(value).split() if split else [str(value).strip()]
        return tuple(p for p in parts if p)
    if isinstance(value, (list, tuple)):
        out: dict[str, None] = {}  # in order, each once: a dict, as a list made this quadratic
        for item in value:
            out.update(dict.fromkeys(_names(item)))
        return tuple(out)
    return ()


MAX_NAME = 100  # characters of one category or tag: longer ones are cut


def limit_names(article: Article, max_categories: int, max_tags: int) -> tuple[Article, str]:
    """The article with its first `max_categories` categories and `max_tags` tags, each cut
    to MAX_NAME characters, and what was left out ('' when nothing): each name makes feeds,
    so 3,000 of them made 18,000 feed files of one article."""
    categories = _limited(article.categories, max_categories)
    tags = _limited(article.tags, max_tags)
    if (categories, tags) == (article.categories, article.tags):
        return article, ""
    cut = (
        f"categories={len(article.categories)} tags={len(article.tags)} "
        f"kept={len(categories)},{len(tags)} (at most {max_categories},{max_tags}, "
        f"{MAX_NAME} characters each)"
    )
    return dataclasses.replace(article, categories=categories, tags=tags), cut


def _limited(names: tuple[str, ...], most: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name[:MAX_NAME].strip() for name in names[:most]))


def _author(value: Any) -> str | None:
    """A name, a list of names (the first is kept) or a mapping with a name."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Mapping):
        value = value.get("name")
    if value is None or isinstance(value, bool):
        return None
    return _one_line(str(value)) or None


def _image(meta: Mapping[str, Any]) -> str | None:
    for key in ("thumbnail", "image", "cover", "featured_image", "headimg"):
        value = meta.get(key)
        if isinstance(value, Mapping):
            value = value.get("path") or value.get("url") or value.get("src") or value.get("image")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


_LANG_ALIASES = {
    "zh": "",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-hans": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "zh-hant": "zh-Hant",
}


def _lang_tag(given: str | None, text: str) -> str:
    if not given:
        return detect_lang(text)
    tag = given.replace("_", "-")
    alias = _LANG_ALIASES.get(tag.lower())
    if alias == "":  # plain 'zh': the script decides
        detected = detect_lang(text)
        return detected if detected.startswith("zh") else "zh-Hans"
    return alias or tag


# --- dates ----------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$",
    re.IGNORECASE,
)


def _as_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """Any date form front matter gives: aware or naive datetime, date, or a string such as
    Jekyll's '2025-06-21 12:00:00 +0800' or RFC 822. Naive times are in `tz`."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return _midnight(value, tz)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    match = _DATE_RE.match(text)
    if match:
        return _from_match(match, tz)
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _from_match(match: re.Match[str], tz: tzinfo) -> datetime | None:
    year, month, day, hour, minute, second, zone = match.groups()
    zone_info: tzinfo = tz
    if zone:
        upper = zone.upper()
        if upper in ("Z", "UTC", "GMT"):
            zone_info = UTC
        else:
            digits = upper[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            zone_info = timezone(offset if upper[0] == "+" else -offset)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=zone_info,
        )
    except ValueError:
        return None


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _fallback_time(name_date: date | None, mtime: datetime, tz: tzinfo) -> datetime:
    if name_date is not None:
        return _midnight(name_date, tz)
    return mtime if mtime.tzinfo is not None else mtime.replace(tzinfo=tz)


# --- file names ----------------------------------------------------------------------------

_EXTENSION_RE = re.compile(r"\.[A-Za-z][A-Za-z0-9_-]{0,9}$")
_NAME_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[-_ ]+|$)")


def without_extension(path: str) -> str:
    """`path` without its last extension ('.md'), if it has one."""
    return _EXTENSION_RE.sub("", path)


def _slug_and_date(path: str) -> tuple[str, date | None]:
    """Slug: the file name without extension(s) and date prefix; and that date, if any."""
    name = path.rsplit("/", 1)[-1]
    for _ in range(3):  # 'post.zh-Hant.md'
        stripped = without_extension(name)
        if stripped == name or not stripped:
            break
        name = stripped
    found: date | None = None
    match = _NAME_DATE_RE.match(name)
    if match:
        try:
            found = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            found = None
        if found is not None and name[match.end() :]:
            name = name[match.end() :]
    return name, found


# --- title and body --------------------------------------------------------------------------


def _is_heading_like(line: str) -> bool:
    return 0 < len(line) <= _MAX_TITLE


def _title_and_body(paragraphs: Sequence[str]) -> tuple[str, Sequence[str]]:
    """Plain text: the first non-empty line is the title (a long first line gives its first
    sentence and stays in the body)."""
    if not paragraphs:
        raise ArticleError("no text")
    first = paragraphs[0]
    if len(first) <= _MAX_TITLE:
        return _one_line(first), paragraphs[1:]
    sentence = split_sentences(first)[0]
    return _one_line(sentence[:_MAX_TITLE]), paragraphs


def _join(paragraphs: Iterable[str], title: str) -> str:
    """Body text, paragraphs separated by a blank line; a repeat of the title is dropped."""
    kept = [p for p in paragraphs if p]
    if kept and _one_line(kept[0]) == title:
        kept = kept[1:]
    if not kept:
        raise ArticleError("no text besides the title")
    return "\n\n".join(kept)
