"""Every feed the site publishes: URLs, archives, JSON Feed 1.1, sanitising, stylesheet, hub."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from support.samples import BASE, SITE, sample_articles
from support.sanitize import sanitize_html

from bot.core.membership import slugify
from bot.core.model import StoredArticle
from bot.core.text import to_traditional, xml_valid
from bot.site import catalog
from bot.site.catalog import (
    Entry,
    Feed,
    FeedQuery,
    Page,
    article_entry,
    build_feeds,
    find_feed,
    pages,
    query_page,
)
from bot.site.markup import has_markup
from bot.site.render import render_all, render_documents, render_page
from bot.site.statics import OPML, icon_png, static_documents

ATOM = "{http://www.w3.org/2005/Atom}"
HISTORY = "{http://purl.org/syndication/history/1.0}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STRICT = etree.XMLParser(recover=False, resolve_entities=False)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")


def _many(n: int) -> list[StoredArticle]:
    """`n` articles a day apart, built from the feed tests' richest one."""
    template = sample_articles()[1]
    return [
        replace(
            template,
            id=100 + i,
            uid=f"day{i:03d}",
            article=replace(
                template.article,
                title=f"第{i}天",
                published=template.article.published + timedelta(days=i),
            ),
            events=tuple(replace(s, uid=f"day{i:03d}.{s.uid}") for s in template.events),
        )
        for i in range(n)
    ]


def _xml(data: bytes) -> Any:
    root = etree.fromstring(data, STRICT)
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return root, parsed


def _check_json_feed(doc: dict[str, Any], self_url: str) -> None:
    """JSON Feed 1.1's rules (https://jsonfeed.org/version/1.1)."""
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(doc["title"], str) and doc["title"]
    assert doc["feed_url"] == self_url
    assert doc["home_page_url"] == BASE
    assert [author["name"] for author in doc["authors"]] == [SITE.title]
    ids = [item["id"] for item in doc["items"]]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    for item in doc["items"]:
        assert "content_html" in item or "content_text" in item
        for key in ("date_published", "date_modified"):
            assert RFC3339.match(item[key]), item[key]
        assert all(isinstance(a, dict) and a.get("name") for a in item.get("authors", []))
        assert all(isinstance(t, str) for t in item.get("tags", []))
        assert "author" not in item  # 1.0's singular form is deprecated in 1.1


@pytest.mark.parametrize("limit", [1, 2, 50])
def test_every_document_parses_strictly_with_matching_self_links(limit: int) -> None:
    documents = render_all(SITE, sample_articles(), limit=limit)
    entry_ids: dict[str, str] = {}  # id → title: one id is always the same entry
    for path, data in documents.items():
        url = f"{BASE}feeds/{path}"
        if path.endswith(".json"):
            doc = json.loads(data)
            _check_json_feed(doc, url.replace("人才", "%E4%BA%BA%E6%89%8D"))
            continue
        root, parsed = _xml(data)
        selfs = [link.get("href") for link in root.iter(f"{ATOM}link") if link.get("rel") == "self"]
        assert selfs == [url.replace("人才", "%E4%BA%BA%E6%89%8D")], path
        ids = [entry.id for entry in parsed.entries]
        assert len(set(ids)) == len(ids), path
        for entry in parsed.entries:
            assert entry_ids.setdefault(entry.id, entry.title) == entry.title
        assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<?xml-stylesheet ")


def test_feed_urls_for_types_actors_categories_and_tags() -> None:
    names = {feed.name: feed for feed in build_feeds(SITE, sample_articles())}
    assert [e.title for e in names["events/type/funding"].entries] == [
        "[Funding] Mistral AI raises €600 million"
    ]
    assert len(names["actor/meta"].entries) == 2  # acquisition and talent move
    assert [e.id for e in names["tag/人才"].entries] == ["urn:eventfeed:article:a41f09"]
    assert [e.id for e in names["category/frontier-trends"].entries] == [
        "urn:eventfeed:article:a41f09"
    ]
    assert SITE.feed_url("tag/人才", "rss") == f"{BASE}feeds/tag/%E4%BA%BA%E6%89%8D.rss"


def test_slugs_are_stable_url_safe_and_merge_case() -> None:
    assert slugify("Scale AI") == "scale-ai"
    assert slugify("扎克伯格") == "扎克伯格"
    assert slugify("Meta") == slugify("meta") == slugify("ＭＥＴＡ") == "meta"
    assert slugify("a/b\\c..d?e#f") == "a-b-c-d-e-f"
    assert slugify("///") == ""
    assert len(slugify("x" * 300)) == 80


def test_categories_tags_and_actors_are_one_feed_across_chinese_scripts() -> None:
    assert slugify("分類資訊") == slugify("分类资讯") == "分类资讯"
    assert slugify("太極實業") == slugify("太极实业")
    hans, hant = sample_articles()[0], sample_articles()[0]
    hans = replace(hans, article=replace(hans.article, categories=("分类资讯",), tags=("人才",)))
    hant = replace(
        hant,
        id=hant.id + 1000,
        uid=hant.uid + "-twin",
        article=replace(hant.article, path="b.md", categories=("分類資訊",), tags=()),
    )
    feeds = {feed.name: feed for feed in build_feeds(SITE, [hans, hant])}
    category = feeds["category/分类资讯"]
    assert len(category.entries) == 2
    assert "category/分類資訊" not in feeds
    # its label is the name as one of its entries wrote it
    assert category.title.endswith(("分类资讯", "分類資訊"))


@given(total=st.integers(0, 40), limit=st.integers(1, 8))
def test_the_current_page_always_shows_the_newest_limit_entries(total: int, limit: int) -> None:
    """Most readers never open an archive page: however many entries there are, the current
    page holds the newest `limit` (all, while fewer), and no entry is on two pages. With a
    current page of 1 to `limit` entries, a reader polling after two arrivals at a page's
    edge never saw the first of them."""
    entries = tuple(_entry(n) for n in range(total))
    found = pages(Feed("articles", "t", entries), limit)
    current, archives = found[0], found[1:]
    newest = {e.id for e in entries[-limit:]} if total else set()
    assert newest <= {e.id for e in current.entries}
    assert len(current.entries) < 2 * limit or total == 0
    listed = [e.id for page in found for e in page.entries]
    assert sorted(listed) == sorted(e.id for e in entries)  # each once
    assert all(len(page.entries) == limit for page in archives)


def _entry(n: int) -> Entry:
    return replace(article_entry(SITE, _many(1)[0]), id=f"urn:test:{n:03d}")


def test_archives_keep_every_entry_and_full_pages_never_change() -> None:
    articles = _many(9)
    documents = render_all(SITE, articles, limit=3)
    # 9 entries, 3 per page: archives 1 (oldest 3) and 2 (next 3), current = the newest 3 (it
    # keeps 3 to 5, so that a reader that opens no archive sees the newest 3): every entry is
    # on exactly one page.
    assert {p for p in documents if p.startswith("archive/articles/")} == {
        f"archive/articles/{n}.{fmt}" for n in (1, 2) for fmt in ("atom", "rss", "json")
    }
    root, parsed = _xml(documents["articles.atom"])
    links = {link.get("rel"): link.get("href") for link in root.iter(f"{ATOM}link")}
    assert links["prev-archive"] == f"{BASE}feeds/archive/articles/2.atom"
    assert root.find(f"{HISTORY}archive") is None
    seen = {entry.id for entry in parsed.entries}
    for n in (1, 2):
        page, page_parsed = _xml(documents[f"archive/articles/{n}.rss"])
        assert page.find(f"channel/{HISTORY}archive") is not None
        rels = {link.get("rel"): link.get("href") for link in page.iter(f"{ATOM}link")}
        assert rels["current"] == f"{BASE}feeds/articles.rss"
        assert ("prev-archive" in rels) == (n == 2)
        after = "archive/articles/2" if n == 1 else "articles"  # the newest: the current feed
        assert rels["next-archive"] == f"{BASE}feeds/{after}.rss"
        ids = {entry.id for entry in page_parsed.entries}
        assert len(ids) == 3 and not ids & seen
        seen |= ids
    assert len(parsed.entries) == 3
    assert seen == {f"urn:eventfeed:article:day{i:03d}" for i in range(9)}
    json_current = json.loads(documents["articles.json"])
    assert json_current["next_url"] == f"{BASE}feeds/archive/articles/2.json"
    # Three newer articles: page 1 stays byte-identical, page 2 keeps its entries and gains its
    # next-archive link to page 3, which appears.
    later = render_all(SITE, _many(12), limit=3)
    for fmt in ("atom", "rss", "json"):
        assert later[f"archive/articles/1.{fmt}"] == documents[f"archive/articles/1.{fmt}"]
    assert later["archive/articles/2.json"] == documents["archive/articles/2.json"]
    page2 = _xml(later["archive/articles/2.atom"])[0]
    assert (
        f'href="{BASE}feeds/archive/articles/3.atom" rel="next-archive"'
        in etree.tostring(page2).decode()
    )
    assert "archive/articles/3.atom" not in documents and "archive/articles/3.atom" in later


def test_json_feed_items_carry_content_and_events() -> None:
    doc = json.loads(render_all(SITE, sample_articles(), limit=50)["articles.json"])
    _check_json_feed(doc, f"{BASE}feeds/articles.json")
    meta = doc["items"][0]
    assert meta["id"] == "urn:eventfeed:article:a41f09"
    assert meta["date_published"] == "2025-06-21T12:00:00+08:00"
    assert meta["authors"] == [{"name": "编辑部"}]
    assert meta["image"] == f"{BASE}style/image/openai-meta-1_1.jpg"
    assert "<p>根据多家媒体报道" in meta["content_html"]
    events = {e["type"]: e for e in meta["_eventfeed"]["events"]}
    assert events["acquisition"]["actors"] == ["Meta", "Scale AI"]
    assert events["acquisition"]["amount"]["usd"] == 1.43e10
    assert doc["language"] == "zh-Hans" and meta["language"] == "zh-Hans"


def test_events_are_categories_with_schemes_in_atom_and_rss() -> None:
    """No namespace of our own (the validator warns of one): an event's type and actors are
    categories with their scheme, its facts are in the content, its data in JSON Feed."""
    documents = render_all(SITE, sample_articles(), limit=50)
    root = etree.fromstring(documents["events/type/acquisition.rss"], STRICT)
    [item] = root.iter("item")
    terms = [(c.get("domain"), c.text) for c in item.iter("category")]
    assert terms == [
        ("urn:eventfeed:event-type", "acquisition"),
        ("urn:eventfeed:actor", "Meta"),
        ("urn:eventfeed:actor", "Scale AI"),
    ]
    for name, data in documents.items():
        if not name.endswith(".json"):
            assert b"urn:eventfeed:events:1" not in data, name
            assert set(etree.fromstring(data, STRICT).nsmap.values()) <= {
                "http://www.w3.org/2005/Atom",
                "http://purl.org/syndication/history/1.0",
                "http://search.yahoo.com/mrss/",
                "http://purl.org/dc/elements/1.1/",
                "http://purl.org/rss/1.0/modules/content/",
            }, name


def test_stylesheet_href_is_relative_to_each_feed() -> None:
    documents = render_all(SITE, sample_articles(), limit=1)
    assert b'href="feed.xsl"' in documents["events.atom"]
    assert b'href="../feed.xsl"' in documents["tag/ai.rss"]
    assert b'href="../../feed.xsl"' in documents["events/type/funding.atom"]
    assert b'href="../../feed.xsl"' in documents["archive/events/1.atom"]
    statics = static_documents(SITE, build_feeds(SITE, sample_articles()))
    etree.fromstring(statics["feed.xsl"], STRICT)
    assert statics["icon.png"].startswith(b"\x89PNG\r\n\x1a\n") and icon_png() == icon_png()


def test_opml_lists_every_current_feed_once() -> None:
    feeds = build_feeds(SITE, sample_articles())
    root = etree.fromstring(static_documents(SITE, feeds)[OPML], STRICT)
    urls = root.xpath("//outline/@xmlUrl")
    assert urls == [
        SITE.feed_url(feed.name, "atom") for feed in feeds
    ]  # a reader imports each once
    assert f"{BASE}feeds/actor/scale-ai.atom" in urls
    assert root.xpath("//outline[@xmlUrl][1]/@title") == [feeds[0].title]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_stylesheet_view_links_each_entry_and_shows_its_type(fmt: str) -> None:
    documents = render_all(SITE, sample_articles(), limit=50)
    transform = etree.XSLT(etree.fromstring(static_documents(SITE, [])["feed.xsl"]))
    page = transform(etree.fromstring(documents[f"events.{fmt}"], STRICT))
    hrefs = [str(a.get("href")) for a in page.iter("a")]
    # Atom entry links carry no rel (feedgen leaves out "alternate"); one entry has no link.
    assert hrefs == [f"{BASE}frontier/2025/06/21/meta-openai.html"] * 2
    types = [str(span.text) for span in page.iter("span") if span.get("class") == "type"]
    # Atom's category label (RSS has none: its titles carry the label); never the raw id.
    assert sorted(types) == (["Funding", "人才流动", "收购"] if fmt == "atom" else [])


def test_websub_hub_is_declared_in_every_format() -> None:
    site = replace(SITE, hub="https://hub.example.org/")
    documents = render_all(site, sample_articles(), limit=50)
    for name in ("events.atom", "events.rss"):
        root = etree.fromstring(documents[name], STRICT)
        hubs = [link.get("href") for link in root.iter(f"{ATOM}link") if link.get("rel") == "hub"]
        assert hubs == ["https://hub.example.org/"], name
    assert json.loads(documents["events.json"])["hubs"] == [
        {"type": "WebSub", "url": "https://hub.example.org/"}
    ]
    assert b'rel="hub"' not in render_all(SITE, sample_articles(), limit=50)["events.atom"]
    assert site.topics(["events.atom", "archive/events/1.atom", "feed.xsl", "tag/人才.rss"]) == [
        f"{BASE}feeds/events.atom",
        f"{BASE}feeds/tag/%E4%BA%BA%E6%89%8D.rss",
    ]


def test_query_page_filters_converts_and_links_to_itself() -> None:
    feed = find_feed(build_feeds(SITE, sample_articles()), "events")
    assert feed is not None
    url = f"{BASE}feeds/events.atom?actor=meta"
    page = query_page(feed, FeedQuery(actor="META", script="hant"), 50, url, to_traditional)
    assert {e.title for e in page.entries} == {
        "[人才流動] Meta從OpenAI挖走三位研究員",
        "[收購] Meta以143億美元收購Scale AI 49%股份",
    }
    root, _ = _xml(render_page(SITE, page, "atom"))
    assert [link.get("href") for link in root.iter(f"{ATOM}link") if link.get("rel") == "self"] == [
        url
    ]
    # Converted text says its script: readers pick CJK glyphs by xml:lang.
    assert {e.get(XML_LANG) for e in root.iter(f"{ATOM}entry")} == {"zh-Hant"}
    assert query_page(feed, FeedQuery(limit=5000), 50, url).entries == tuple(reversed(feed.entries))


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),
        ('<p onclick="x()" style="color:red">t</p>', "<p>t</p>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        (
            '<a href="/post/2.html" onmouseover="x">x</a>',
            '<a href="https://s.example/post/2.html">x</a>',
        ),
        (
            '<img src="img/a.png" onerror="x()" alt="a">',
            '<img src="https://s.example/blog/img/a.png" alt="a">',
        ),
        ('<img src="data:image/png;base64,AAAA">', ""),
        ("<iframe src='https://evil'>inner</iframe><p>ok", "<p>ok</p>"),
        ("<div><p>open <b>bold</div> tail", "<p>open <b>bold tail</b></p>"),
        ("<svg><script>x</script><p>in svg</p></svg>after", "after"),
        ("1 < 2 & 3\x00", "1 &lt; 2 &amp; 3"),
    ],
)
def test_sanitiser(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty, "https://s.example/blog/post.html") == clean


def test_summary_type_follows_markup() -> None:
    assert has_markup("a <b>bold</b> claim") and has_markup("AT&amp;T")
    assert not has_markup("1 < 2 and 3 > 2") and not has_markup("plain")
    stored = replace(sample_articles()[1], summary="Meta <b>bought</b> Scale AI")
    root = etree.fromstring(render_all(SITE, [stored], limit=5)["articles.atom"], STRICT)
    summary = root.find(f"{ATOM}entry/{ATOM}summary")
    assert summary is not None and summary.get("type") == "html"


def test_updated_is_the_newest_entry_so_unchanged_input_is_byte_identical() -> None:
    first = render_all(SITE, sample_articles(), limit=2)
    again = render_all(SITE, list(reversed(sample_articles())), limit=2)
    assert first == again
    root = etree.fromstring(first["events.atom"], STRICT)
    newest = max(e.findtext(f"{ATOM}updated") or "" for e in root.iter(f"{ATOM}entry"))
    assert datetime.fromisoformat(root.findtext(f"{ATOM}updated") or "") == datetime.fromisoformat(
        newest
    )


# Any characters (surrogates and controls too), and the markup the content is built of.
_TEXT = st.lists(
    st.text(st.characters(), max_size=8)
    | st.sampled_from(["&amp;", "&#x27;", "<p>", "</li>", "<br>", "\n", "\n \n", "\r\n"]),
    max_size=12,
).map("".join)


@given(text=_TEXT, summary=_TEXT, actor=_TEXT)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_article_content_is_already_sanitised(text: str, summary: str, actor: str) -> None:
    """Article entries are built from escaped text and skip the sanitiser (half a large
    publish's work): what they hold must be exactly what sanitising it would leave."""
    stored = sample_articles()[1]  # two events: one with an amount, a date and a stake
    event = replace(stored.events[0].event, summary=summary, actors=(actor, "Meta"))
    stored = replace(
        stored,
        article=replace(stored.article, text=text),
        events=(replace(stored.events[0], event=event), *stored.events[1:]),
    )
    content = article_entry(SITE, stored).content_html
    assert sanitize_html(content, BASE) == content


_FIELD = st.text(st.characters(), max_size=6) | st.sampled_from(["", "ok", "Meta"])


@given(
    title=_FIELD,
    author=_FIELD,
    tag=_FIELD,
    summary=_FIELD,
    uid=_FIELD,
    event_summary=_FIELD,
    actor=_FIELD,
    evidence=_FIELD,
)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_entries_said_clean_render_as_cleaned(
    title: str,
    author: str,
    tag: str,
    summary: str,
    uid: str,
    event_summary: str,
    actor: str,
    evidence: str,
) -> None:
    """An entry made clean (every string one XML carries) is rendered without cleaning it
    again: the same bytes as cleaning it, and clean only when it is."""
    stored = sample_articles()[1]
    event = replace(
        stored.events[0].event, summary=event_summary, actors=(actor,), evidence=evidence
    )
    stored = replace(
        stored,
        uid=uid or "a1",
        summary=summary,
        article=replace(stored.article, title=title, author=author or None, tags=(tag,)),
        events=(replace(stored.events[0], event=event), *stored.events[1:]),
    )
    feeds = build_feeds(SITE, [stored])
    entries = {e.id: e for feed in feeds for e in feed.entries}
    for entry in entries.values():
        strings = [entry.id, entry.title, entry.summary, entry.content_html]
        strings += [entry.link or "", entry.author or "", entry.thumbnail or ""]
        strings += [entry.language or "", *(term for term, _ in entry.categories)]
        assert entry.clean == all(map(xml_valid, strings))
        made = Page(Feed("articles", "T", ()), (entry,), None, 0)
        cleaned = Page(Feed("articles", "T", ()), (replace(entry, clean=False),), None, 0)
        assert render_documents(SITE, made) == render_documents(SITE, cleaned)


# Texts with characters XML forbids, what escaping changes, and the joint `_texts_html` uses.
_PIECE = st.text(
    st.characters() | st.sampled_from(["&", "<", ">", '"', "\x00", "\ud800", "\ufdd0", "\ufffe"]),
    max_size=6,
)


@given(texts=st.lists(_PIECE, max_size=8))
@settings(max_examples=300)
def test_texts_escaped_together_are_each_escaped_alone(texts: list[str]) -> None:
    """`_texts_html` escapes an article's event texts in one pass: exactly what escaping
    each alone gives, whatever they hold (the joint itself too)."""
    assert catalog._texts_html(texts) == [catalog._text_html(text) for text in texts]


@given(texts=st.lists(_PIECE | st.none(), max_size=6))
@settings(max_examples=300)
def test_strings_are_clean_together_when_each_is(texts: list[str | None]) -> None:
    assert catalog.clean_strings(*texts) == all(t is None or xml_valid(t) for t in texts)
