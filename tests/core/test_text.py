"""Text utilities: script detection, simplified/traditional folding, sentences, XML safety."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import text as core_text
from bot.core.text import (
    _BULLET_OPENERS,
    _BULLET_RE,
    _HAN_RUN_RE,
    _HEADING_RE,
    _QUOTE_RE,
    _REF_DEF_RE,
    _RULE_OPENERS,
    _RULE_RE,
    _WRAP_RE,
    _changed,
    detect_lang,
    html_to_paragraphs,
    looks_like_html,
    markdown_to_paragraphs,
    split_sentences,
    strip_xml_invalid,
    to_simplified,
    to_traditional,
)


@pytest.mark.parametrize(
    "text,lang",
    [
        ("Meta hired three researchers from OpenAI on Tuesday.", "en"),
        ("Meta成功从OpenAI挖走三位顶尖研究员，以加强其超级智能项目。", "zh-Hans"),
        ("你敢信嗎?美國扎克伯格花了上億美金所挖來的人才,本科竟然全是中國大學的才子!", "zh-Hant"),
        ("台積電今天宣布在美國擴大投資。", "zh-Hant"),
        (
            "ElevenLabs launched Voice Design v3 for everyone today, with 70 languages. 语音设计",
            "en",
        ),
        ("ソニーは新しいカメラを発表しました。", "ja"),
        ("삼성전자가 새로운 반도체 공장을 발표했다.", "ko"),
        ("", "en"),
        ("12345 !!!", "en"),
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


def _detect_lang_long_way(text: str) -> str:
    """detect_lang as written before its shortcuts: every count taken, on every text."""
    sample = text[:1500]
    han = "".join(_HAN_RUN_RE.findall(sample))
    kana = len(re.findall("[\u3040-\u30ff]", sample))
    hangul = len(re.findall("[\uac00-\ud7af]", sample))
    latin_words = len(re.findall(r"[A-Za-z\u00c0-\u024f]{2,}", sample))
    if hangul >= 2 and hangul > max(len(han), latin_words) // 2:
        return "ko"
    if kana >= 2 and kana > len(han) // 5:
        return "ja"
    if not han or len(han) < latin_words:
        return "en"
    han = han[:300]
    traditional = _changed(han, to_simplified(han))
    if traditional == 0:
        return "zh-Hans"
    return "zh-Hant" if traditional > _changed(han, to_traditional(han)) else "zh-Hans"


# Runs of each script detection counts, and what lies between them: punctuation of both
# widths (U+3000 on: past the shortcut's bound), astral Han, an emoji, a lone surrogate.
_SCRIPT_PIECES = st.sampled_from(
    [
        "Meta hired three researchers",
        "ab",
        "é",
        "a",
        "成功挖走三位研究员",
        "擴大投資",
        "台積電",
        "ソニー",
        "カメラ",
        "삼성전자",
        "반",
        "。",
        "、",
        "，",
        " ",
        "\n",
        "1",
        "\U00020000",
        "\U0001f600",
        "\ud800",
    ]
)


@settings(max_examples=400)
@given(st.lists(_SCRIPT_PIECES | st.text(max_size=6), max_size=40).map("".join))
def test_detect_lang_takes_the_long_way_s_answer(text: str) -> None:
    assert detect_lang(text) == _detect_lang_long_way(text)
    assert detect_lang(text * 60) == _detect_lang_long_way(text * 60)  # past the sample


def test_simplified_and_traditional_fold_names() -> None:
    assert to_simplified("畢樹超離開OpenAI") == "毕树超离开OpenAI"
    assert to_traditional("毕树超离开OpenAI") == "畢樹超離開OpenAI"
    assert to_simplified("") == "" and to_traditional("") == ""
    # Character by character, so a folded name lines up with the original text.
    assert len(to_traditional("软件公司发布")) == len("软件公司发布")


@pytest.mark.parametrize(
    "text,sentences",
    [
        (
            "The U.S. firm paid $14.3 billion. Mr. Wang joined at 9 a.m. on Monday. Why? "
            '"Because," he said.',
            [
                "The U.S. firm paid $14.3 billion.",
                "Mr. Wang joined at 9 a.m. on Monday.",
                "Why?",
                '"Because," he said.',
            ],
        ),
        (
            "Meta以143亿美元收购Scale AI 49%的股份。奥特曼表示：“这不是真的！”随后……他离开了；完",
            [
                "Meta以143亿美元收购Scale AI 49%的股份。",
                "奥特曼表示：“这不是真的！”",
                "随后……",
                "他离开了；",
                "完",
            ],
        ),
        (
            "你敢信嗎?美國扎克伯格花了上億美金!本科全是才子",
            ["你敢信嗎?", "美國扎克伯格花了上億美金!", "本科全是才子"],
        ),
        ("First line\nSecond line. Third one.", ["First line", "Second line.", "Third one."]),
        (
            "Version 2.5 of Llama 4.1 shipped. It is fast.",
            ["Version 2.5 of Llama 4.1 shipped.", "It is fast."],
        ),
        (
            "Gen. J. Smith and Dr. Jones met Acme Inc. executives.",
            ["Gen. J. Smith and Dr. Jones met Acme Inc. executives."],
        ),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_strip_xml_invalid_makes_text_xml_safe() -> None:
    dirty = "ok\x00\x01\x08\x0b\x0c\x1f\ud800\udfff\ufffe\uffff tab\tnl\nend 😀 €"
    clean = strip_xml_invalid(dirty)
    assert clean == "ok tab\tnl\nend 😀 €"
    element = ET.Element("x")
    element.text = clean
    assert ET.fromstring(ET.tostring(element, encoding="unicode")).text == clean


def test_html_to_paragraphs() -> None:
    page = (
        "<html><head><title>Site | Headline</title><style>p{}</style></head><body>"
        "<nav>Home</nav><h1>Headline</h1><p>One &amp; two<br>three</p>"
        "<script>document.write('<p>x</p>')</script><ul><li>item</li></ul>"
        '<time datetime="2025-01-02T03:04:05Z">Jan 2</time><footer>(c)</footer></body></html>'
    )
    found = html_to_paragraphs(page)
    assert found.title == "Headline"
    assert found.paragraphs == ("Headline", "One & two", "three", "item", "Jan 2")
    assert found.published == "2025-01-02T03:04:05Z"
    assert html_to_paragraphs("<title>Only title</title><p>x</p>").title == "Only title"


def _html_the_long_way(text: str) -> core_text.HtmlText:
    """html_to_paragraphs with every page read by HTMLParser (no plain-tag reading)."""
    reader = core_text._HtmlReader()
    reader.feed(core_text._STRAY_LT_RE.sub("&lt;", core_text._remove_comments(text)))
    reader.close()
    reader._flush()
    title = " ".join(reader.h1.split()) or " ".join(reader.title.split())
    return core_text.HtmlText(title, tuple(reader.paragraphs), reader.published, reader.lang)


_TAG_NAMES = [
    "p",
    "P",
    "div",
    "br",
    "h1",
    "H1",
    "title",
    "html",
    "head",
    "meta",
    "time",
    "nav",
    "li",
    "span",
    "a",
    "script",
    "style",
    "textarea",
    "footer",
    "hr",
]
_ATTRS = st.builds(
    lambda space, name, value: f"{space}{name}{value}",
    st.sampled_from([" ", "  ", "\n\t", ""]),
    st.sampled_from(["lang", "LANG", "name", "property", "content", "datetime", "class", "x-y"]),
    st.sampled_from(
        [
            "",
            "=''",
            "='en'",
            '="zh-Hans"',
            "='date'",
            '="DatePublished"',
            "='article:published_time'",
            "='2025-01-02'",
            "='a&amp;b&#39;c &lt;'",
            '="a?b=1&c=2"',
            "=bare",
            "='>'",
            "='1/2'",
        ]
    ),
)
_PIECES = st.one_of(
    st.builds(
        lambda name, attrs, close, space: f"<{name}{''.join(attrs)}{space}{close}>",
        st.sampled_from(_TAG_NAMES),
        st.lists(_ATTRS, max_size=3),
        st.sampled_from(["", "/", " /"]),
        st.sampled_from(["", " ", "\n"]),
    ),
    st.builds(
        lambda name, space: f"</{name}{space}>",
        st.sampled_from(_TAG_NAMES),
        st.sampled_from(["", "", " "]),
    ),
    st.sampled_from(
        [
            "<!doctype html>",
            "<!DOCTYPE html>",
            "<!-- c -->",
            "<!--",
            "<?xml?>",
            "<![CDATA[x]]>",
            "< p>",
            "<",
            ">",
            "&amp;",
            "&lt;b&gt;",
            "&",
            "&#",
            "&nbsp",
            "\n",
            " ",
            "。",
            "“",
            "</>",
            "<p",
            "</p",
        ]
    ),
    st.text("ab &;#\n\t.Zz中文<>/='\"", max_size=12),
)


@settings(max_examples=1500)
@given(st.lists(_PIECES, max_size=14))
def test_plain_tags_are_read_as_htmlparser_reads_them(pieces: list[str]) -> None:
    page = "".join(pieces)
    assert html_to_paragraphs(page) == _html_the_long_way(page)


def test_a_page_of_plain_tags_is_read_without_htmlparser() -> None:
    page = "<!doctype html><html lang='en'><head><title>T &amp; U</title></head><p>a</p></html>"
    plain = core_text._HtmlReader()
    assert core_text._read_plain(plain, page)
    assert plain.title == "T & U" and plain.lang == "en"
    dated = "<html lang='a&amp;b'><meta name='date' content='1&lt;2&#39;'><p>x</p>"
    assert html_to_paragraphs(dated) == _html_the_long_way(dated)
    assert html_to_paragraphs(dated).published == "1<2'"
    assert not core_text._read_plain(core_text._HtmlReader(), "<p>x</p><script>y</script>")
    assert not core_text._read_plain(core_text._HtmlReader(), "<p>x</p><br/ >")


def test_looks_like_html() -> None:
    assert looks_like_html("<!DOCTYPE html><html><body><p>x</p></body></html>")
    assert looks_like_html("\n<div>\n<p data-vmark='1'>x</p></div>")
    assert not looks_like_html("# Title\n\nSome <b>bold</b> text")
    assert not looks_like_html("Plain text with a <p> in the middle")
    markdown = (
        '<div align="center"><img src="x.png"></div>\n\n# Heading\n\nSome **bold** text.\n\nMore.'
    )
    assert not looks_like_html(markdown)
    assert markdown_to_paragraphs(markdown) == ["Heading", "Some bold text.", "More."]
    assert looks_like_html("<article>\n<h1>\nTitle\n</h1>\n<p>\nText\n</p>\n</article>")


def test_markdown_joins_hard_wrapped_lines_only() -> None:
    text = (
        "A sentence that was wrapped by an editor at a fixed column width\n"
        "continues here.\n"
        "A new line that ends a sentence.\n"
        "Another paragraph.\n"
        "中文段落，\n"
        "续写。\n"
        "独立一行\n"
        "另一行"
    )
    assert markdown_to_paragraphs(text) == [
        "A sentence that was wrapped by an editor at a fixed column width continues here.",
        "A new line that ends a sentence.",
        "Another paragraph.",
        "中文段落，续写。",
        "独立一行",
        "另一行",
    ]


def test_markdown_code_fences_and_rules() -> None:
    text = "Intro\n\n```python\nx = 1\n```\n\n---\n\n# # # # I # #\n\n### \n\nOutro"
    assert markdown_to_paragraphs(text) == ["Intro", "x = 1", "Outro"]


# Markdown's line openings and what may follow them, to test the openers markdown_to_paragraphs
# looks at before trying a line pattern.
_MARKUP = st.sampled_from(
    [
        *("-", "*", "_", "+", "•", "·", "▪", "●", "◦", "|", ":", "#", ">", "[", "]", "(", "`"),
        *("---", ":--", "| - |", "* * *", "[a]: x", "## ", "> >", "- • ", "~"),
        *(" ", "\t", "\u3000", "\x1c", "a", "1", "中", "。", "\n"),
    ]
)


def _opens_as_its_openers_say(raw: str) -> None:
    line = raw.strip()
    opener = line[:1]
    if _RULE_RE.match(line):
        assert opener in _RULE_OPENERS
    if _REF_DEF_RE.match(line):
        assert opener == "["
    if _HEADING_RE.match(line):
        assert opener == "#"
    if _QUOTE_RE.sub("", line) != line:
        assert opener == ">"
    if _BULLET_RE.match(line):
        assert opener and opener in _BULLET_OPENERS
    if _WRAP_RE.search(raw):
        assert "\n" in raw


@pytest.mark.parametrize(
    "line", [":---:", " |---|", "___", "* * *", "◦ item", "> quote", "[a]: x", "# h", "中\n中"]
)
def test_a_line_pattern_matches_only_lines_opening_as_its_openers_say(line: str) -> None:
    _opens_as_its_openers_say(line)


@settings(max_examples=500)
@given(st.lists(_MARKUP | st.text(max_size=3), max_size=12).map("".join))
def test_no_line_pattern_matches_a_line_its_openers_rule_out(raw: str) -> None:
    _opens_as_its_openers_say(raw)


@settings(max_examples=300)
@given(st.text(" \t\n\r\u3000\u00a0\u2028", min_size=1))
def test_a_flush_of_spaces_alone_keeps_nothing_with_or_without_unwrapping(space: str) -> None:
    # Why _flush skips _WRAP_RE for chunks of white space alone: nothing is left either way.
    assert " ".join(_WRAP_RE.sub("", space).split()) == " ".join(space.split()) == ""
