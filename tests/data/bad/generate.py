"""The hostile-input corpus: file name → bytes. Small files are kept in `files/` (run this
script to rewrite them); the large ones are only ever generated, in a test's tmp folder.

    python tests/data/bad/generate.py   # rewrites tests/data/bad/files/
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

BODY = (
    "Orion Holdings said on Monday it agreed to acquire Quartz Systems for $12 million in cash.\n"
)


def post(title: str, body: str = BODY, date: str = "2025-03-01 09:00:00 +0000") -> bytes:
    return f"---\ntitle: {title}\ndate: {date}\n---\n{body}".encode()


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 4 * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + bytes(range(256)) * 8


ALIAS_BOMB = "\n".join(
    ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]"
        for i in range(8)
    ]
    + ["title: Alias bomb", "categories: *i", "---", BODY]  # 387 million categories
)

ZH_HANS = "腾讯宣布以5亿美元收购一家游戏公司。这是腾讯今年最大的一笔收购交易。\n" * 5
ZH_HANT = "鴻海宣佈以十億美元收購一家電動車公司。這是鴻海今年最大的一筆收購。\n" * 5


def small_cases() -> dict[str, bytes]:
    """Each hostile input, small enough to keep in the repository."""
    return {
        "empty.md": b"",
        "only-front-matter.md": b"---\ntitle: Only front matter\ndate: 2025-03-01\n---\n",
        "front-matter-not-closed.md": b"---\ntitle: Never closed\ndate: 2025-03-01\n"
        + BODY.encode(),
        "front-matter-list.md": b"---\n- one\n- two\n---\n" + BODY.encode(),
        "front-matter-scalar.md": b"---\njust a string\n---\n" + BODY.encode(),
        "yaml-python-tag.md": b"---\ntitle: !!python/object/apply:os.system ['touch /tmp/eventfeed-pwned']\n---\n"
        + BODY.encode(),
        "yaml-alias-bomb.md": ALIAS_BOMB.encode(),
        "image.png": _png(),
        "program.elf": _elf(),
        "invalid-utf8.md": post("Broken \xff bytes").replace(b"\xc3\xbf", b"\xff\xfe\xc0")
        + b"\x80\x81 tail\n",
        "gbk.txt": ("腾讯收购游戏公司\n\n" + ZH_HANS).encode("gbk"),
        "big5.txt": ("鴻海收購電動車公司\n\n" + ZH_HANT).encode("big5"),
        "utf16-bom.txt": ("Orion acquires Quartz\n\n" + BODY * 3).encode("utf-16"),
        "utf16le-nobom.txt": ("Orion acquires Quartz\n\n" + BODY * 3).encode("utf-16-le"),
        "control-chars-title.md": post('"Orion\\x00 buys\\x0b Quartz\\x1b[31m \\x7f \\ufffe done"'),
        "raw-control-chars.md": b"---\ntitle: Raw \x01\x02\x08 control\n---\n"
        + BODY.encode()
        + b"\x00\x0c\n",
        "html-script.md": post(
            "'<script>alert(1)</script><b>bold</b> & <a href=\"javascript:alert(2)\">click</a>'",
            body='<p>Orion Holdings <script>alert("x")</script> agreed to acquire <a href="javascript:alert(3)">Quartz Systems</a> for $12 million.</p>\n'
            "<b>Telegram</b> <tg-spoiler>markup</tg-spoiler> &amp; <i>entities</i> &lt;tag&gt;\n",
        ),
        "rtl-emoji.md": post("'مرحبا שלום \u202eevil\u202c 🚀🔥👨‍👩‍👧 Orion'"),
        "title-5000.md": post("'" + "Long " * 1000 + "'"),
        "future-date.md": post("From the future", date="2999-12-31 23:59:59 +0000"),
        "epoch-date.md": post("From 1970", date="1970-01-01 00:00:00 +0000"),
        "bad-date.md": post("Impossible date", date="2025-02-30 25:61:00"),
        "link-javascript.md": b"---\ntitle: Bad link\nlink: javascript:alert(1)\npermalink: javascript:alert(1)\n---\n"
        + BODY.encode(),
    }


def slow_bodies(size: int) -> dict[str, str]:
    """Article bodies of about `size` characters, each a shape that some step of extraction
    once took quadratic time (or memory) over: a pattern tried from every start and failing
    at the line's end, one run of thousands of capitalised words, thousands of triggers or
    dates or names in one line, thousands of candidate sentences."""

    def times(unit: str) -> str:
        return unit * max(1, size // len(unit))

    return {
        "unclosed-links": times("[a]("),
        "unclosed-images": times("![a]("),
        "unclosed-autolinks": times("<http://"),
        "one-name-run": times("Orion "),
        "capitalised-pairs": times("Orion Quartz "),
        "weak-triggers-one-clause": times("Meta以1亿美元收购Scale AI的股份，"),
        "dates-one-line": times("2025-01-01 acquires "),
        "chinese-dates": times("2025年1月1日收购"),
        "dotted-names": times("马克·扎克伯格"),
        "role-names": times("首席执行官马化腾"),
        "chinese-no-punctuation": times("腾讯收购游戏公司股份美元"),
        "distinct-deals": "".join(
            f"Alpha{i} Corp acquires Beta{i} Inc for ${i} million. "
            for i in range(max(1, size // 52))
        ),
        "short-lines": times("Orion buys Quartz\n"),
        "open-tags": times("<"),
    }


def large_cases(max_bytes: int, slow_size: int = 200_000) -> dict[str, bytes]:
    """Generated at test time: too large to keep, or slow to keep in git. The slow shapes
    (see `slow_bodies`) are `slow_size` characters each."""
    slow = {
        f"slow-{name}.md": post(f"Slow {name}", body)
        for name, body in slow_bodies(slow_size).items()
    }
    return slow | {
        "huge.md": b"---\ntitle: Huge\n---\n" + b"x" * (max_bytes + 1024),
        "one-long-line.txt": ("Orion Holdings acquires Quartz Systems " * 140_000)[
            : 5 * 1024 * 1024
        ].encode(),
        "many-lines.md": post("Many lines", body="Orion acquires Quartz.\n" * 200_000),
        "many-names.md": many_names(),
    }


def many_names(count: int = 3000) -> bytes:
    """38 KB: each name made a feed in three formats, each listing all 6,000 names."""
    return (
        "---\ntitle: Many names\ncategories: "
        + " ".join(f"category{i}" for i in range(count))
        + "\ntags: "
        + " ".join(f"tag{i}" for i in range(count))
        + "\n---\n"
        + BODY
    ).encode()


def main() -> int:
    folder = HERE / "files"
    folder.mkdir(exist_ok=True)
    for name, data in small_cases().items():
        (folder / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
