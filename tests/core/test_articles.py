"""Article parsing: every fixture in tests/data/articles beside its expected YAML, the shared
development corpus when present, encodings, date forms, and unreadable input."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.articles import (
    BOILERPLATE as BOILERPLATE_RULES,
)
from bot.core.articles import (
    MAX_NAME,
    ArticleError,
    _checked,
    _load_meta,
    _split_front_matter,
    _xml_safe_utf8,
    decode,
    limit_names,
    parse_article,
    remove_boilerplate,
)
from bot.core.model import Article
from bot.core.text import markdown_to_paragraphs, strip_xml_invalid, to_simplified, to_traditional
from bot.site.permalinks import article_url

DATA = Path(__file__).parent.parent / "data" / "articles"
EXPECTED_SUFFIX = ".expected.yaml"
CORPUS = Path(__file__).resolve().parent.parents[1] / ".." / "shared" / "corpus"
SEEDS = CORPUS.parent / "seeds"
BASE_URL = "https://example.org/"
MTIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
# Debris that must never survive cleaning, in any article.
BOILERPLATE = ("UnmuteMute", "{:toc}", "See more", "特別聲明", "特别声明", "Notice: The content")


def parse(data: bytes, path: str = "post.md", tz: Any = TZ) -> Article:
    return parse_article(data, path, MTIME, tz)


def fixtures() -> list[str]:
    return sorted(p.name for p in DATA.iterdir() if not p.name.endswith(EXPECTED_SUFFIX))


def test_every_fixture_has_an_expected_result() -> None:
    names = fixtures()
    assert len(names) >= 10
    for name in names:
        assert (DATA / (name + EXPECTED_SUFFIX)).is_file(), name


@pytest.mark.parametrize("name", fixtures())
def test_fixture(name: str) -> None:
    expected = yaml.safe_load((DATA / (name + EXPECTED_SUFFIX)).read_text(encoding="utf-8"))
    data = (DATA / name).read_bytes()
    if "error" in expected:
        with pytest.raises(ArticleError, match=expected["error"]) as caught:
            parse(data, name)
        assert "\n" not in str(caught.value)
        return
    article = parse(data, name)
    assert article.path == name
    assert article.published.tzinfo is not None
    for key, want in expected.items():
        if key == "published":
            got = article.published
            assert got.isoformat() == want, key
            assert got.utcoffset() == datetime.fromisoformat(want).utcoffset()
        elif key in ("categories", "tags"):
            assert list(getattr(article, key)) == want, key
        elif key == "url":
            assert (
                article_url(article, BASE_URL, "/:categories/:year/:month/:day/:title.html") == want
            )
        elif key == "title_startswith":
            assert article.title.startswith(want)
        elif key == "text_startswith":
            assert article.text.startswith(want)
        elif key == "text_endswith":
            assert article.text.endswith(want)
        elif key == "text_contains":
            for piece in want:
                assert piece in article.text, piece
        elif key == "text_excludes":
            for piece in want:
                assert piece not in article.text, piece
        else:
            assert getattr(article, key) == want, key
    for junk in BOILERPLATE:
        assert junk not in article.text


# --- the shared development corpus ------------------------------------------------------------


def _gold() -> list[tuple[Path, dict[str, Any]]]:
    gold_file = CORPUS / "gold.yaml"
    if not gold_file.is_file():
        return []
    gold = yaml.safe_load(gold_file.read_text(encoding="utf-8"))
    return [(SEEDS / s["file"], s) for s in gold["seeds"]] + [
        (CORPUS / "articles" / a["file"], a) for a in gold["articles"]
    ]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present in this checkout")
@pytest.mark.parametrize("path,gold", _gold(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_corpus_article(path: Path, gold: dict[str, Any]) -> None:
    article = parse(path.read_bytes(), path.name)
    assert article.title and article.text
    assert article.lang == gold["lang"].split()[0]
    fmt = gold["format"].split()[0]
    # "jekyll" is any post with front matter (Jekyll, Hexo, Hugo, a news site's YAML header).
    front_matter = fmt in ("jekyll", "hexo", "hugo") or "front matter" in gold["format"]
    assert article.format == ("jekyll" if front_matter else "text")
    for junk in BOILERPLATE:
        assert junk not in article.text
    assert "<p" not in article.text and "](" not in article.text
    # Cleaning keeps real sentences whole: every hand-picked evidence sentence, reduced the
    # same way, is still in the text.
    raw = path.read_text(encoding="utf-8", errors="replace")
    body = raw.split("\n---", 2)[-1] if raw.startswith("---") else raw
    for event in gold["events"]:
        evidence = event["evidence"]
        for sentence in evidence if isinstance(evidence, list) else [evidence]:
            if "[" in sentence and "](" not in sentence:
                continue  # the sentence was cut inside a Markdown link
            if sentence not in body and sentence in raw:
                continue  # a front-matter field's (summary:), not body text cleaning could cut
            reduced = " ".join(markdown_to_paragraphs(sentence))
            assert reduced in article.text or reduced in article.title, sentence


# --- encodings -----------------------------------------------------------------------------------

CHINESE = (
    "---\ntitle: 腾讯以十亿美元收购游戏公司\ndate: 2025-06-21 12:00:00 +0800\n---\n"
    "腾讯今天宣布，将以十亿美元收购一家游戏公司。\n\n交易预计年底完成。\n"
)
SHORT_SIMPLIFIED = "阿里巴巴发布新模型\n\n阿里巴巴今天发布了新的人工智能模型。\n"
SHORT_TRADITIONAL = "台積電宣布擴產\n\n台積電今天宣布在美國擴大投資。\n"


@pytest.mark.parametrize(
    "encoding,data,recorded",
    [
        ("utf-8", CHINESE.encode("utf-8"), "utf-8"),
        ("utf-8-sig", CHINESE.encode("utf-8-sig"), "utf-8-sig"),
        ("utf-16 with BOM", CHINESE.encode("utf-16"), "utf-16"),
        ("utf-16-le without BOM", CHINESE.encode("utf-16-le"), "utf-16-le"),
        ("utf-16-be without BOM", CHINESE.encode("utf-16-be"), "utf-16-be"),
        ("utf-16-be with BOM", b"\xfe\xff" + CHINESE.encode("utf-16-be"), "utf-16"),
        ("gbk", CHINESE.encode("gbk"), "gb18030"),
        ("gb18030", CHINESE.encode("gb18030"), "gb18030"),
        ("big5", to_traditional(CHINESE).encode("big5"), "big5"),
        ("crlf", CHINESE.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
    ],
)
def test_encodings_round_trip(encoding: str, data: bytes, recorded: str) -> None:
    article = parse(data)
    assert article.encoding == recorded, encoding
    assert to_simplified(article.title) == "腾讯以十亿美元收购游戏公司"
    assert (
        to_simplified(article.text)
        == "腾讯今天宣布，将以十亿美元收购一家游戏公司。\n\n交易预计年底完成。"
    )
    assert article.published == datetime(2025, 6, 21, 4, tzinfo=UTC)
    assert "\r" not in article.text and "\ufeff" not in article.text


@pytest.mark.parametrize(
    "source,codec,recorded,lang",
    [
        (SHORT_SIMPLIFIED, "gbk", "gb18030", "zh-Hans"),
        (SHORT_TRADITIONAL, "big5", "big5", "zh-Hant"),
        ("小米发布\n\n小米今天发布新手机。", "gbk", "gb18030", "zh-Hans"),
        ("鴻海投資\n\n鴻海今天宣布投資。", "big5", "big5", "zh-Hant"),
    ],
)
def test_short_legacy_chinese_is_detected(
    source: str, codec: str, recorded: str, lang: str
) -> None:
    article = parse(source.encode(codec), "short.txt")
    assert article.encoding == recorded
    assert article.title == source.split("\n")[0]
    assert article.text == source.split("\n\n", 1)[1].strip()
    assert article.lang == lang


def test_latin1_english_is_decoded() -> None:
    article = parse("Pound falls\n\nSterling fell to £1.20 against the euro.\n".encode("latin-1"))
    assert article.text == "Sterling fell to £1.20 against the euro."
    assert article.encoding == "cp1252"
    assert article.lang == "en"


# Text with what UTF-8 decoding is checked for: control characters (few or many), characters
# XML cannot carry, and the neighbours of both.
_CONTROLLED = st.text(
    st.sampled_from("\x01\x08\x0b\x0c\x0e\x1f\x7f\t\n\r \ufffd\ufffe\uffff\uffbf\ue000")
    | st.characters(blacklist_categories=("Cs",)),  # UTF-8 cannot carry a lone surrogate
    max_size=300,
).filter(lambda t: "\x00" not in t)


@settings(max_examples=400)
@given(
    _CONTROLLED
    | st.text(st.sampled_from("\x7f\x01a"), max_size=30)  # many controls
    | st.text(st.sampled_from("\ufffe\uffff\uffbf\ufffda"), max_size=5)  # controls none
)
def test_utf8_is_checked_from_its_bytes_as_from_its_text(text: str) -> None:
    data = text.encode()
    if data.startswith(b"\xef\xbb\xbf") or not data:
        return  # a mark, or nothing: other ways
    try:
        expected: tuple[str, str] | str = _checked(text, "utf-8")
    except ArticleError as exc:
        expected = str(exc)
    try:
        got: tuple[str, str] | str = decode(data)
    except ArticleError as exc:
        got = str(exc)
    if not any(data.startswith(magic) for magic in (b"GIF8", b"PK\x03\x04", b"RIFF")):
        assert got == expected
    if _xml_safe_utf8(data):
        assert strip_xml_invalid(text) == text


# --- front matter ---------------------------------------------------------------------------------


def _split_front_matter_long_way(text: str) -> tuple[dict[str, Any], str] | None:
    """_split_front_matter as it was: the text cut into lines, each compared."""
    stripped = text.lstrip("\n \t")
    first, _, rest = stripped.partition("\n")
    kind = {"---": "yaml", "+++": "toml"}.get(first.rstrip())
    if kind is None:
        return None
    closers = (first.rstrip(), "...") if kind == "yaml" else (first.rstrip(),)
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() in closers:
            return _load_meta("\n".join(lines[:i]), kind), "\n".join(lines[i + 1 :])
    if kind == "yaml" and ":" not in rest.partition("\n")[0]:
        return None
    raise ArticleError(f"front matter opened with '{first.rstrip()}' is never closed")


_FRONT_PIECES = st.sampled_from(
    ["---", "+++", "...", "\n", "\n\n", "title: x", "a = 1", " ", "\t", "body", "---  "]
)


@settings(max_examples=400)
@given(st.lists(_FRONT_PIECES, max_size=12).map("".join))
def test_front_matter_is_split_as_the_long_way_splits_it(text: str) -> None:
    def outcome(split: Any) -> Any:
        try:
            return split(text)
        except ArticleError as exc:
            return str(exc)

    assert outcome(_split_front_matter) == outcome(_split_front_matter_long_way)


SHANGHAI_NOON = datetime(2025, 6, 21, 12, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2025-06-21 12:00:00 +0800", SHANGHAI_NOON),  # Jekyll's form: a plain string to YAML
        ("2025-06-21T12:00:00+08:00", SHANGHAI_NOON),  # YAML timestamp: aware datetime
        ("'2025-06-21T04:00:00Z'", datetime(2025, 6, 21, 4, tzinfo=UTC)),  # quoted: a string
        ("2025-06-21 12:00:00", SHANGHAI_NOON),  # naive: the site time zone
        ("2025-06-21 12:00", SHANGHAI_NOON),
        ("2025-06-21", datetime(2025, 6, 21, tzinfo=TZ)),  # a date
        ("2025/06/21 12:00:00 +08:00", SHANGHAI_NOON),
        ("Sat, 21 Jun 2025 04:00:00 GMT", datetime(2025, 6, 21, 4, tzinfo=UTC)),  # RSSHub
        ("Sat, 21 Jun 2025 12:00:00 +0800", SHANGHAI_NOON),
        ("not a date", datetime(2024, 2, 3, tzinfo=TZ)),  # falls back to the file name
        ("", datetime(2024, 2, 3, tzinfo=TZ)),
    ],
)
def test_front_matter_date_forms(value: str, expected: datetime) -> None:
    data = f"---\ntitle: T\ndate: {value}\n---\nBody text.\n".encode()
    article = parse(data, "_posts/2024-02-03-t.md")
    assert article.published == expected
    assert article.published.utcoffset() == expected.utcoffset()


def test_date_falls_back_to_mtime_in_its_own_zone() -> None:
    article = parse(b"---\ntitle: T\n---\nBody text.\n", "t.md")
    assert article.published == MTIME and article.published.tzinfo is not None
    naive = parse_article(b"Title\n\nBody.", "t.txt", datetime(2026, 1, 2, 3, 4), TZ)  # noqa: DTZ001
    assert naive.published == datetime(2026, 1, 2, 3, 4, tzinfo=TZ)


@pytest.mark.parametrize(
    "front,categories,tags",
    [
        ("category: Frontier Trends", ("Frontier Trends",), ()),
        ("categories: news people", ("news", "people"), ()),
        ("categories: [Frontier Trends, AI]\ntags: [a, b]", ("Frontier Trends", "AI"), ("a", "b")),
        (
            "categories:\n - [新媒体, IT 之家]\n - 资讯\ntags: one two",
            ("新媒体", "IT 之家", "资讯"),
            ("one", "two"),
        ),
        ("tag: single tag", (), ("single tag",)),
    ],
)
def test_categories_and_tags(
    front: str, categories: tuple[str, ...], tags: tuple[str, ...]
) -> None:
    article = parse(f"---\ntitle: T\n{front}\n---\nBody.\n".encode())
    assert article.categories == categories
    assert article.tags == tags


@pytest.mark.parametrize(
    "front,thumbnail",
    [
        ("thumbnail: /a.jpg", "/a.jpg"),
        ("image: https://x/b.png", "https://x/b.png"),
        ("image:\n  path: /c.png", "/c.png"),
        ("image:\n  url: /d.png", "/d.png"),
        ("title2: none", None),
    ],
)
def test_thumbnail_forms(front: str, thumbnail: str | None) -> None:
    assert parse(f"---\ntitle: T\n{front}\n---\nBody.\n".encode()).thumbnail == thumbnail


@pytest.mark.parametrize("key", ["id", "uuid", "feed_id"])
def test_feed_id_keys(key: str) -> None:
    assert parse(f"---\ntitle: T\n{key}: abc-1\n---\nBody.\n".encode()).feed_id == "abc-1"


@pytest.mark.parametrize(
    "given,lang", [("zh-CN", "zh-Hans"), ("zh_TW", "zh-Hant"), ("en", "en"), ("fr-FR", "fr-FR")]
)
def test_language_from_front_matter_wins(given: str, lang: str) -> None:
    data = f"---\ntitle: 标题\nlang: {given}\n---\n正文内容在这里。\n".encode()
    assert parse(data).lang == lang


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty file"),
        (b"  \n\r\n\t", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "ELF"),
        (bytes(range(256)) * 4, "binary"),
        (b"---\ntitle: [unclosed\n---\nBody\n", "front matter is not valid YAML: .* line"),
        (b"---\n- a\n- b\n---\nBody\n", "not a mapping"),
        (b"---\ntitle: T\ndate: 2025-02-30\n---\nBody\n", "not valid YAML: day is out of range"),
        (b"---\ntitle: T\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n---\nBody\n", "not valid YAML"),
        (b"---\njust a string\n---\nBody\n", "not a mapping"),
        (b"---\ntitle: T\nno closing fence\n", "never closed"),
        (b"+++\ntitle = \n+++\nBody\n", "not valid TOML"),
        (b"---\nlayout: post\n---\n\n", "no title"),
        (b"Just a title\n", "no text besides the title"),
        (b"\xff\xfe" + "Title\n\nBody".encode("utf-16-le") + b"\x00\x00\x01\x00", "binary"),
    ],
)
def test_unreadable_input_gives_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ArticleError, match=reason) as caught:
        parse(data)
    assert "\n" not in str(caught.value)


def test_yaml_front_matter_is_loaded_safely() -> None:
    data = b"---\ntitle: !!python/object/apply:os.system ['true']\n---\nBody\n"
    with pytest.raises(ArticleError, match="not valid YAML"):
        parse(data)


def _alias_levels(levels: int, top: str) -> str:
    """`levels` anchors, each a list of nine aliases of the one before: 9**levels values."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(levels - 1):
        here, below = chr(98 + i), chr(97 + i)
        lines.append(f"{here}: &{here} [{','.join([f'*{below}'] * 9)}]")
    return "---\n" + "\n".join(lines) + f"\ntitle: Bomb\n{top}: *{chr(96 + levels)}\n---\nBody.\n"


@pytest.mark.parametrize("top", ["categories", "tags", "author", "x"])
def test_a_yaml_alias_bomb_is_refused_at_once(top: str) -> None:
    """Nine levels of nine aliases (under 500 bytes) stand for 387 million values: walking
    the categories took minutes. Refused when composed, before anything walks them."""
    data = _alias_levels(9, top).encode()
    assert len(data) < 500
    started = time.perf_counter()
    with pytest.raises(ArticleError, match=r"aliases expand to more than 10000 values"):
        parse(data)
    assert time.perf_counter() - started < 5.0  # hang guard: it took minutes


def test_a_recursive_yaml_alias_is_refused() -> None:
    with pytest.raises(ArticleError, match="alias inside its own anchor"):
        parse(b"---\ntitle: T\ncategories: &c [a, *c]\n---\nBody.\n")


def test_yaml_aliases_that_expand_a_little_still_work() -> None:
    """Anchors reused a few times, merges included, are ordinary YAML."""
    article = parse(_alias_levels(3, "categories").encode())  # 729 values
    assert article.categories == ("lol",)
    merged = parse(
        b"---\nbase: &b {lang: en}\npost:\n  <<: *b\ntitle: T\ntags: &t [x, y]\n"
        b"categories: *t\n---\nBody.\n"
    )
    assert merged.categories == ("x", "y") and merged.tags == ("x", "y")


def test_limit_names_keeps_the_first_names_cut_short() -> None:
    long = "x" * 5000
    article = parse(f"---\ntitle: T\ncategories: [a, b, c]\ntags: [{long}, y]\n---\nB.\n".encode())
    assert limit_names(dataclasses.replace(article, tags=("y",)), 3, 1)[1] == ""
    kept, cut = limit_names(article, 2, 5)
    assert kept.categories == ("a", "b") and kept.tags == ("x" * MAX_NAME, "y")
    assert cut == "categories=3 tags=2 kept=2,2 (at most 2,5, 100 characters each)"


def test_many_categories_are_deduplicated_in_linear_time() -> None:
    """100,000 names: de-duplicating them in a list took minutes (quadratic)."""
    names = ", ".join(f"c{i}, C{i % 1000}" for i in range(100_000))
    data = f"---\ntitle: T\ncategories: [{names}]\n---\nBody.\n".encode()
    started = time.perf_counter()
    article = parse(data, "_posts/2025-01-01-t.md")
    url = article_url(article, BASE_URL)
    assert time.perf_counter() - started < 20.0  # hang guard: it took minutes
    assert len(article.categories) == 101_000
    assert article.categories[:3] == ("c0", "C0", "c1")
    assert url.startswith(BASE_URL + "c0/")


# --- text ----------------------------------------------------------------------------------------


def test_markdown_heading_first_line_is_the_title() -> None:
    article = parse(b"# Acme buys Beta\n\nAcme bought Beta.\n", "acme.md")
    assert (article.title, article.text, article.format) == (
        "Acme buys Beta",
        "Acme bought Beta.",
        "text",
    )


def test_a_long_first_line_gives_its_first_sentence_as_title() -> None:
    line = "Acme bought Beta on Monday. " + "It was a long day for everyone involved. " * 10
    article = parse(line.encode(), "long.txt")
    assert article.title == "Acme bought Beta on Monday."
    assert article.text == line.strip()


def test_video_junk_is_cut_but_text_glued_to_it_stays() -> None:
    junk = "00:00UnmuteMuteSettingsCaptionsDisabledQuality480pSpeedNormalPIPEnter fullscreenPlay"
    article = parse(f"标题\n\n第一段。\n{junk}然而，贝耶尔离开了。\n".encode())
    assert article.text == "第一段。\n\n然而，贝耶尔离开了。"


# Boilerplate and its near misses: other cases (with 'İ', 'ı', 'K', 'ſ', which lower or match
# case-insensitively in their own ways), words of the old broad triggers ('stock', 'more').
_DEBRIS = st.sampled_from(
    [
        "{:toc}",
        "{: TOC }",
        "* Contents\n\n{:toc}",
        "[TOC]",
        "[toc]",
        "See more",
        "ſee more",
        "READ MORE »",
        "Show More…",
        "展开全文",
        "閱讀全文",
        "查看更多",
        "![a](b.png) See more",
        "Notice: The content above is",
        "特別聲明：本文",
        "00:00UnmuteMuteSettings",
        "Source: https://example.com/a",
        "VİA: [post](https://x.y)",
        "Via: [post](y)",
        "http",
        "https://example.com/a.png",
        "stock",
        "more",
        "İ",
        "ı",
        "K",
        "\n",
        " ",
        "\t",
        ".",
    ]
)


def _remove_boilerplate_long_way(text: str) -> str:
    """What remove_boilerplate did before its words were narrowed and sought in ASCII: each
    pattern run where its old, broader words are in the lowered text."""
    broad = {"kramdown table of contents": ("toc",), "see more": ("more", "全文", "更多")}
    lowered = text.lower()
    for name, words, pattern in BOILERPLATE_RULES:
        if any(word in lowered for word in broad.get(name, words)):
            text = pattern.sub("", text)
    return text


@settings(max_examples=500)
@given(st.lists(_DEBRIS | st.text(max_size=5), max_size=12).map("".join))
def test_boilerplate_is_removed_as_the_long_way_removes_it(text: str) -> None:
    assert remove_boilerplate(text) == _remove_boilerplate_long_way(text)


def test_boilerplate_words_are_found_in_any_case() -> None:
    for _, words, pattern in BOILERPLATE_RULES:
        for word in words:
            if word.isascii():  # sought lowered among the ASCII characters
                assert word == word.lower() and "k" not in word, word
                if pattern.flags & re.IGNORECASE:
                    assert "i" not in word and "s" not in word, word
            else:  # sought as written
                assert word == word.lower() == word.upper(), word


def test_markdown_markup_is_reduced_to_text() -> None:
    body = (
        "## **Heading** here\n"
        "- [Link text](https://example.com/a_(b)) and ![img](x.png) **bold** *em* `code`\n"
        "1. Numbered item stays numbered\n"
        "> quoted &amp; unescaped &#8230;\n"
        '[![](img/a.png "t (1)")](https://example.com/big.jpg)\n'
        "| --- | --- |\n"
        "~~struck~~ text<br>next line\n"
    )
    article = parse(f"Title\n\n{body}".encode())
    assert article.text.split("\n\n") == [
        "Heading here",
        "Link text and bold em code",
        "1. Numbered item stays numbered",
        "quoted & unescaped …",
        "struck text",
        "next line",
    ]


def test_control_characters_are_removed() -> None:
    article = parse("Title\x0b\n\nBody\x01 text\ufffe.\n".encode())
    assert (article.title, article.text) == ("Title", "Body text.")


def test_slug_drops_extensions_and_date_prefix() -> None:
    assert parse(b"T\n\nB.", "a/2025-06-21-hello-world.zh-Hant.md").slug == "hello-world"
    assert parse(b"T\n\nB.", "v1.5-notes.txt").slug == "v1.5-notes"
    assert parse(b"T\n\nB.", "2025-06-21.md").slug == "2025-06-21"
    assert parse(b"T\n\nB.", "README").slug == "README"


# --- URLs ----------------------------------------------------------------------------------------


def _post(**changes: Any) -> Article:
    fields: dict[str, Any] = {
        "path": "_posts/2025-06-21-meta-hires.md",
        "title": "T",
        "text": "B",
        "lang": "en",
        "published": datetime(2025, 6, 1, 8, 5, 9, tzinfo=timezone(timedelta(hours=8))),
        "format": "jekyll",
        "slug": "Meta-Hires",
        "categories": ("Frontier Trends",),
    }
    fields.update(changes)
    return Article(**fields)


@pytest.mark.parametrize(
    "pattern,url",
    [
        (
            "/:categories/:year/:month/:day/:title.html",
            "frontier%20trends/2025/06/01/Meta-Hires.html",
        ),
        ("/:year/:i_month/:i_day/:slug/", "2025/6/1/meta-hires/"),
        ("/:short_year/:hour:minute:second/:title", "25/080509/Meta-Hires"),
        ("", "frontier%20trends/2025/06/01/Meta-Hires.html"),
    ],
)
def test_jekyll_permalink_patterns(pattern: str, url: str) -> None:
    assert (
        article_url(_post(), "https://blog.example/base", pattern)
        == f"https://blog.example/base/{url}"
    )


def test_url_forms() -> None:
    no_category = _post(categories=())
    assert article_url(no_category, BASE_URL, "/:categories/:year/:title.html") == (
        "https://example.org/2025/Meta-Hires.html"
    )
    folders = _post(path="tech/ai/_posts/x.md", categories=("AI", "news"))
    assert article_url(folders, BASE_URL, "/:categories/:title/") == (
        "https://example.org/tech/ai/news/Meta-Hires/"
    )
    chinese = _post(slug="扎克伯格", categories=("新闻",))
    assert article_url(chinese, BASE_URL, "/:categories/:title.html") == (
        "https://example.org/%E6%96%B0%E9%97%BB/%E6%89%8E%E5%85%8B%E4%BC%AF%E6%A0%BC.html"
    )
    assert article_url(_post(permalink="/about/x y/"), BASE_URL, "/:title") == (
        "https://example.org/about/x%20y/"
    )
    # :title is Jekyll's 'pretty' slug of the file name, :slug its plain lower-case slug.
    odd = _post(slug="12 万亿！为支付_遗产税_ a:b (v1.5)", categories=())
    jekyll_doc = _post(slug="The _config.yml file?")
    assert article_url(jekyll_doc, BASE_URL, "/:title/:slug") == (
        "https://example.org/The-_config.yml-file/the-config-yml-file"
    )
    assert article_url(odd, BASE_URL, "/:title:output_ext") == (
        "https://example.org/12-%E4%B8%87%E4%BA%BF-%E4%B8%BA%E6%94%AF%E4%BB%98_"
        "%E9%81%97%E4%BA%A7%E7%A8%8E_-a-b-(v1.5).html"
    )
    assert article_url(odd, BASE_URL, "/:slug/") == (
        "https://example.org/12-%E4%B8%87%E4%BA%BF-%E4%B8%BA%E6%94%AF%E4%BB%98-"
        "%E9%81%97%E4%BA%A7%E7%A8%8E-a-b-v1-5/"
    )
    colon = _post(categories=("a:b",))
    assert article_url(colon, BASE_URL, "/:categories/x") == "https://example.org/a:b/x"
    text = _post(format="text", path="notes/a b.zh-Hant.txt", slug="a b")
    assert (
        article_url(text, BASE_URL, "/:title")
        == "https://example.org/articles/notes/a%20b.zh-Hant.html"
    )


def test_date_type_is_accepted_directly() -> None:
    # PyYAML turns an unquoted date into datetime.date.
    article = parse(b"---\ntitle: T\ndate: 2024-02-29\n---\nBody.\n")
    assert article.published.date() == date(2024, 2, 29)


def test_html_language_attribute_is_used() -> None:
    page = b'<html lang="fr"><head><title>Titre</title></head><body><p>Bonjour.</p></body></html>'
    article = parse(page, "page.html")
    assert (article.format, article.lang, article.title, article.text) == (
        "html",
        "fr",
        "Titre",
        "Bonjour.",
    )


# Pieces of every format and of known debris, '|'-separated, for the fuzzer to combine.
_FRAGMENT_TEXT = (
    "---\n|+++\n|title: |date: |2025-06-21 12:00:00 +0800|\n|# |<p>|</p>|<html>|**|[x](y)|![](z)"
    "|特別聲明:|00:00UnmuteMutePlay|中文|English. |\x00|\ufeff|\r\n|{:toc}|&amp;|\ud800|…|- |> "
)
_FRAGMENTS = st.sampled_from(_FRAGMENT_TEXT.split("|"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(_FRAGMENTS, max_size=30).map(
            lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
        ),
    )
)
def test_any_input_gives_an_article_or_an_article_error(data: bytes) -> None:
    try:
        article = parse(data, "fuzz.md")
    except ArticleError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert article.title and article.text
    assert article.published.tzinfo is not None
    for field in (article.title, article.text):
        assert strip_xml_invalid(field) == field  # feeds can carry it
    assert article_url(article, BASE_URL, "/:categories/:year/:title.html").startswith(BASE_URL)


@pytest.mark.parametrize(
    "hostile",
    [
        "T\n\n" + "[" * 100_000,
        "<p>" + "<a" * 100_000,
        "<p>x</p>" + "<!--" * 100_000,
        "T\n\n" + "{%" * 100_000 + "%}",
        "T\n\n" + "?" * 100_000 + "a",
        "T\n\n" + "a,\n" * 100_000,
        "T\n\n" + "00:00Mute" * 100_000,
        "a. b" * 100_000,
    ],
    ids=["brackets", "open-tags", "comments", "liquid", "marks", "wrapped", "video", "title"],
)
def test_hostile_input_takes_linear_time(hostile: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(ArticleError):
        parse(hostile.encode(), "hostile.md")
    assert time.perf_counter() - started < 3.0  # quadratic behaviour takes minutes


@pytest.mark.parametrize("key", ["description", "summary", "excerpt", "subtitle"])
def test_the_deck_is_read_as_plain_text(key: str) -> None:
    data = f"---\ntitle: T\n{key}: 'Acme **raised** [$5M](https://x.example/a) &#8230; <b>now</b>'\n---\nBody.\n"
    assert parse(data.encode()).description == "Acme raised $5M … now"


def test_no_deck_is_none() -> None:
    assert parse(b"---\ntitle: T\ndescription: ''\n---\nBody.\n").description is None
    assert parse(b"Title\n\nBody text here.\n", "post.txt").description is None
