"""Feed rendering: well-formed Atom and RSS, stable ids and dates, byte-identical output."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from lxml import etree
from support.samples import BASE, SITE, sample_articles

from bot.core.config import SiteConfig, parse_config
from bot.core.lru import Lru
from bot.core.text import strip_xml_invalid
from bot.site.catalog import Feed, Page, build_feeds, pages
from bot.site.render import (
    EMPTY_FEED_UPDATED,
    FEED_PATHS,
    FeedSite,
    render_all,
    render_articles_feed,
    render_documents,
    render_events_feed,
    safe_link,
)

ATOM = "{http://www.w3.org/2005/Atom}"
STRICT = etree.XMLParser(recover=False, resolve_entities=False)


def _parse(data: bytes) -> Any:
    etree.fromstring(data, STRICT)  # raises on anything not well-formed
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


@pytest.fixture
def feeds() -> dict[str, bytes]:
    return render_all(SITE, sample_articles(), limit=50)


XML_FEEDS = sorted(name for name in FEED_PATHS if not name.endswith(".json"))


@pytest.mark.parametrize("name", XML_FEEDS)
def test_every_feed_is_well_formed(feeds: dict[str, bytes], name: str) -> None:
    parsed = _parse(feeds[FEED_PATHS[name]])
    assert parsed.version == ("atom10" if name.endswith(".atom") else "rss20")
    assert len(parsed.entries) == 3  # three articles; three events


def test_render_all_writes_every_feed_in_three_formats(feeds: dict[str, bytes]) -> None:
    names = {path.rsplit(".", 1)[0] for path in feeds}
    assert names == {
        "articles",
        "events",
        "events/type/acquisition",
        "events/type/funding",
        "events/type/talent_move",
        "actor/meta",
        "actor/scale-ai",
        "actor/openai",
        "actor/lucas-beyer",
        "actor/mistral-ai",
        "category/frontier-trends",
        "tag/ai",
        "tag/人才",
        "tag/funding",
    }
    assert len(feeds) == 3 * len(names)


def test_rendering_is_byte_identical_and_independent_of_input_order() -> None:
    first = render_all(SITE, sample_articles(), limit=50)
    second = render_all(SITE, list(reversed(sample_articles())), limit=50)
    assert first == second


def test_feed_updated_is_the_newest_entry_not_the_clock(feeds: dict[str, bytes]) -> None:
    atom = etree.fromstring(feeds["articles.atom"], STRICT)
    assert atom.findtext(f"{ATOM}updated") == "2025-06-22T08:00:00+00:00"
    rss = etree.fromstring(feeds["articles.rss"], STRICT)
    assert rss.findtext("channel/lastBuildDate") == "Sun, 22 Jun 2025 08:00:00 +0000"
    empty = etree.fromstring(render_articles_feed(SITE, [], "atom", 10), STRICT)
    assert empty.findtext(f"{ATOM}updated") == EMPTY_FEED_UPDATED.isoformat()
    assert empty.findall(f"{ATOM}entry") == []


def test_articles_newest_first_with_ties_broken_by_id(feeds: dict[str, bytes]) -> None:
    ids = [e.id for e in _parse(feeds["articles.atom"]).entries]
    # meta and tsmc share a published moment: the id decides, whatever the input order.
    assert ids == [
        "urn:eventfeed:article:a41f09",
        "urn:eventfeed:article:b7c1e2",
        "urn:eventfeed:article:c9d3aa",
    ]
    rss_ids = [e.id for e in _parse(feeds["articles.rss"]).entries]
    assert rss_ids == ids


def test_limit_keeps_the_newest() -> None:
    parsed = _parse(render_articles_feed(SITE, sample_articles(), "rss", limit=1))
    assert [e.id for e in parsed.entries] == ["urn:eventfeed:article:a41f09"]
    events = _parse(render_events_feed(SITE, sample_articles(), "atom", limit=3))
    assert {e.id for e in events.entries} == {
        "urn:eventfeed:event:ev-acq",
        "urn:eventfeed:event:ev-talent",
        "urn:eventfeed:event:ev-fund",
    }
    # Three events, two a page: no archive page yet, since the current page keeps the newest
    # two to three (a reader that never opens archives sees at least `limit`); one a page: two
    # archive pages and the newest alone, never an entry of an archive page (RFC 5005).
    current = _parse(render_events_feed(SITE, sample_articles(), "atom", limit=2))
    assert len(current.entries) == 3
    assert not any(link.get("rel") == "prev-archive" for link in current.feed.links)
    current = _parse(render_events_feed(SITE, sample_articles(), "atom", limit=1))
    assert [e.id for e in current.entries] == ["urn:eventfeed:event:ev-acq"]
    assert any(link.get("rel") == "prev-archive" for link in current.feed.links)


def test_atom_dates_are_rfc3339_with_their_offset(feeds: dict[str, bytes]) -> None:
    root = etree.fromstring(feeds["articles.atom"], STRICT)
    entries = root.findall(f"{ATOM}entry")
    published = [e.findtext(f"{ATOM}published") for e in entries]
    assert published[0] == "2025-06-21T12:00:00+08:00"
    assert published[2] == "2025-06-11T09:30:00-04:00"  # New York, summer time
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")
    for entry in entries:
        for tag in ("published", "updated"):
            assert rfc3339.match(entry.findtext(f"{ATOM}{tag}") or "")


def test_rss_dates_are_rfc822_with_their_offset(feeds: dict[str, bytes]) -> None:
    root = etree.fromstring(feeds["articles.rss"], STRICT)
    dates = [item.findtext("pubDate") for item in root.iter("item")]
    assert dates[0] == "Sat, 21 Jun 2025 12:00:00 +0800"
    assert dates[2] == "Wed, 11 Jun 2025 09:30:00 -0400"
    assert parsedate_to_datetime(dates[2] or "") == datetime(2025, 6, 11, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", XML_FEEDS)
def test_self_and_alternate_links(feeds: dict[str, bytes], name: str) -> None:
    root = etree.fromstring(feeds[name], STRICT)
    links = {link.get("rel"): link for link in root.iter(f"{ATOM}link")}
    assert links["self"].get("href") == f"{BASE}feeds/{name}"
    if name.endswith(".atom"):
        assert links["alternate"].get("href") == BASE
        assert root.findtext(f"{ATOM}generator") == "eventfeed"
        assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-Hans"
    else:
        assert root.findtext("channel/link") == BASE
        assert root.findtext("channel/generator") == "eventfeed"
        assert root.findtext("channel/language") == "zh-Hans"


def test_control_characters_and_markup_in_titles(feeds: dict[str, bytes]) -> None:
    for name in ("articles.atom", "articles.rss"):
        entry = _parse(feeds[name]).entries[0]
        assert entry.title == "扎克伯格<script>alert('x')</script>巨资挖走三位研究员"
        assert b"<script" not in feeds[name]  # always escaped, never markup


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800"])
def test_one_bad_character_anywhere_never_fails_the_feed(bad: str) -> None:
    stored = sample_articles()[1]
    article = stored.article
    dirty = replace(
        stored,
        uid=f"a4{bad}1f",
        summary=f"摘{bad}要",
        url=f"{BASE}x{bad}.html",
        article=replace(
            article,
            title=f"标{bad}题",
            text=f"正{bad}文",
            author=f"编{bad}辑",
            categories=(f"分{bad}类",),
            tags=(bad,),
            thumbnail=f"/img{bad}.jpg",
        ),
        events=tuple(
            replace(
                s,
                uid=f"{s.uid}{bad}",
                event=replace(s.event, summary=f"{bad}事件", actors=(f"Me{bad}ta",), evidence=bad),
            )
            for s in stored.events
        ),
    )
    site = FeedSite(BASE, f"站{bad}点", f"描{bad}述", "zh-Hans")
    for path, data in render_all(site, [dirty], limit=10).items():
        if path.endswith(".json"):
            assert json.loads(data)["items"], path
            continue
        parsed = _parse(data)
        assert parsed.entries, path
    assert strip_xml_invalid(f"a{bad}b\tc\n") == "ab\tc\n"


def test_article_entry_content(feeds: dict[str, bytes]) -> None:
    entry = _parse(feeds["articles.atom"]).entries[0]
    assert entry.link == f"{BASE}frontier/2025/06/21/meta-openai.html"
    assert entry.author == "编辑部"
    assert [t.term for t in entry.tags] == ["Frontier Trends", "AI", "人才"]
    assert entry.summary == "Meta从OpenAI挖走三位研究员，并收购Scale AI股份。"
    html = entry.content[0].value
    assert "<p>根据多家媒体报道，Meta成功从OpenAI挖走三位顶尖研究员。</p>" in html
    assert "第二行 &amp; 更多" in html
    assert "<dd>Meta, Scale AI</dd>" in html
    assert "143亿美元 (US$14.3 billion)" in html
    assert "<dd>2025-06</dd>" in html
    assert entry.media_thumbnail[0]["url"] == f"{BASE}style/image/openai-meta-1_1.jpg"
    updated = etree.fromstring(feeds["articles.atom"], STRICT).find(f"{ATOM}entry/{ATOM}updated")
    assert updated is not None and updated.text == "2025-06-22T08:00:00+00:00"


def test_rss_item_has_guid_not_permalink_and_creator(feeds: dict[str, bytes]) -> None:
    root = etree.fromstring(feeds["articles.rss"], STRICT)
    item = next(root.iter("item"))
    guid = item.find("guid")
    assert guid is not None and guid.text == "urn:eventfeed:article:a41f09"
    assert guid.get("isPermaLink") == "false"
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "编辑部"
    encoded = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded") or ""
    assert "US$14.3 billion" in encoded


def test_only_http_links_survive(feeds: dict[str, bytes]) -> None:
    mistral = _parse(feeds["articles.atom"]).entries[2]
    assert mistral.id == "urn:eventfeed:article:c9d3aa"
    assert "links" not in mistral
    assert "media_thumbnail" not in mistral
    assert b"javascript:" not in feeds["articles.atom"]
    assert b"javascript:" not in feeds["articles.rss"]
    assert safe_link("ftp://example.org/x", BASE) is None
    assert safe_link("/a b.html", BASE) == f"{BASE}a b.html"
    assert safe_link("http://other.example/x", BASE) == "http://other.example/x"


def test_events_feed_entries(feeds: dict[str, bytes]) -> None:
    parsed = _parse(feeds["events.atom"])
    by_id = {e.id: e for e in parsed.entries}
    assert list(by_id) == [
        "urn:eventfeed:event:ev-acq",
        "urn:eventfeed:event:ev-talent",
        "urn:eventfeed:event:ev-fund",
    ]
    acq = by_id["urn:eventfeed:event:ev-acq"]
    assert acq.title == "[收购] Meta以143亿美元收购Scale AI 49%股份"  # the type as people read it
    assert acq.link == f"{BASE}frontier/2025/06/21/meta-openai.html"
    assert [(t.term, t.scheme) for t in acq.tags] == [
        ("acquisition", "urn:eventfeed:event-type"),
        ("Meta", "urn:eventfeed:actor"),
        ("Scale AI", "urn:eventfeed:actor"),
    ]
    assert acq.published == "2025-06-21T12:00:00+08:00"
    # The article's own time, not the scan's; the events of one article a second apart.
    assert acq.updated == "2025-06-21T12:00:00+08:00"
    assert by_id["urn:eventfeed:event:ev-talent"].updated == "2025-06-21T12:00:01+08:00"
    html = acq.content[0].value
    assert "<dd>Meta以143亿美元收购了Scale AI 49%的股份。</dd>" in html  # evidence
    assert "巨资挖走三位研究员" in html  # the article title, cleaned
    assert "&lt;script&gt;" in html
    fund = by_id["urn:eventfeed:event:ev-fund"]
    assert "€600 million (≈ US$650 million)" in fund.content[0].value
    assert "links" not in fund


def test_events_rss_has_guids_and_pubdates(feeds: dict[str, bytes]) -> None:
    root = etree.fromstring(feeds["events.rss"], STRICT)
    items = list(root.iter("item"))
    assert [i.findtext("guid") for i in items] == [
        "urn:eventfeed:event:ev-acq",
        "urn:eventfeed:event:ev-talent",
        "urn:eventfeed:event:ev-fund",
    ]
    assert items[2].findtext("pubDate") == "Wed, 11 Jun 2025 09:30:00 -0400"
    assert [c.text for c in items[1].iter("category")] == [
        "talent_move",
        "Meta",
        "OpenAI",
        "Lucas Beyer",
    ]


def test_feed_site_from_config() -> None:
    site = FeedSite.from_config(SiteConfig(base_url="http://127.0.0.1:8080/", title="t"))
    assert site.base_url == "http://127.0.0.1:8080/"
    assert site.language == "zh-Hans"
    data = render_articles_feed(replace(site, base_url="http://h.example/blog"), [], "atom", 5)
    assert b'href="http://h.example/blog/feeds/articles.atom"' in data


def test_naive_and_odd_offset_dates_still_render() -> None:
    stored = sample_articles()[0]
    naive = replace(stored.article, published=datetime(2025, 6, 21, 12, 0))  # noqa: DTZ001
    old = replace(stored.article, published=datetime(1900, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")))
    lmt = replace(stored, uid="lmt", article=old)
    data = render_articles_feed(SITE, [replace(stored, article=naive), lmt], "atom", 10)
    root = etree.fromstring(data, STRICT)
    assert [e.findtext(f"{ATOM}published") for e in root.iter(f"{ATOM}entry")] == [
        "2025-06-21T12:00:00+00:00",  # naive: taken as UTC rather than failing the feed
        "1899-12-31T15:54:17+00:00",
    ]
    # Shanghai's 1900 offset is +08:05:43, which RFC 3339 cannot write: shown in UTC instead.
    assert "1899-12-31T15:54:17+00:00" in data.decode()


def test_every_atom_entry_has_an_author() -> None:
    """Atom requires one: the article's, else the feed's (`site.author`, else `site.title`)."""
    config = parse_config("site: {author: Newsroom}\n", {})
    assert FeedSite.from_config(config.site).author == "Newsroom"
    for site, feed_author in ((SITE, SITE.title), (replace(SITE, author="Newsroom"), "Newsroom")):
        root = etree.fromstring(render_articles_feed(site, sample_articles(), "atom", 10), STRICT)
        assert root.findtext(f"{ATOM}author/{ATOM}name") == feed_author
        own = {e.findtext(f"{ATOM}author/{ATOM}name") for e in root.iter(f"{ATOM}entry")}
        assert "编辑部" in own  # an article's own author stays its entry's


def test_a_page_spliced_from_kept_entries_is_the_page_rendered_whole() -> None:
    """The fragment cache changes no byte: every page, rendered whole, equals the same page
    spliced from entries rendered before (on other pages, in another order) and new ones,
    even where an entry's text looks like the tags the splice cuts at."""
    site = FeedSite(BASE, "AI 头条", "描述", "zh-Hans", hub="https://hub.example.org/")
    articles = sample_articles()
    tricky = replace(
        articles[0],
        uid="a9",
        article=replace(
            articles[0].article,
            path="_posts/tricky.md",
            title="</entry>\n  <entry> </item>\n    <item>",
            text='</feed>\n  </channel>\n</rss>\n\n"items":[{}]}',
        ),
        events=(),
    )
    feeds = build_feeds(site, [*articles, tricky])
    every = [page for feed in feeds for limit in (1, 2, 50) for page in pages(feed, limit)]
    every += [Page(p.feed, p.entries[::-1], p.number, p.archive_pages) for p in every]
    every.append(Page(Feed("tag/empty", "Empty", ()), (), None, 0))
    fragments: Lru[Any, Any] = Lru(10_000)
    for page in [*every, *every]:  # the second time, every entry is kept already
        assert render_documents(site, page, fragments) == render_documents(site, page)
    assert len(fragments) == 3 * len({entry for page in every for entry in page.entries})
