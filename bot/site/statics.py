"""The files written beside the feeds: the XSL stylesheet browsers render feeds with, the OPML
list of every feed, and the feed icon. Pure: bytes out, written by `publish`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from bot.core.text import strip_xml_invalid as _c
from bot.site.catalog import ICON, STYLESHEET, Feed, FeedSite

OPML = "feeds.opml"


def static_documents(site: FeedSite, feeds: Sequence[Feed]) -> dict[str, bytes]:
    """The stylesheet, the OPML file and the icon, by path relative to the feeds folder."""
    return {STYLESHEET: FEED_XSL.encode(), OPML: opml(site, feeds), ICON: icon_png()}


def opml(site: FeedSite, feeds: Sequence[Feed]) -> bytes:
    """OPML 2.0 of every current feed, once each, as Atom (a reader importing it subscribes to
    each feed once; RSS and JSON Feed are linked from the home page). No dateCreated, so it
    is byte-stable."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape(site.title)} feeds</title></head>",
        "  <body>",
    ]
    for feed in feeds:
        title = quoteattr(_c(feed.title))
        lines.append(
            f'    <outline type="rss" text={title} title={title}'  # "rss": OPML's word for a feed
            f" xmlUrl={quoteattr(site.feed_url(feed.name, 'atom'))}"
            f" htmlUrl={quoteattr(site.base)}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode()


def icon_png(size: int = 32) -> bytes:
    """A small orange square with a white dot: enough for Atom's icon and RSS's <image>."""
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type: none
        for x in range(size):
            dx, dy = x - size * 0.3, y - size * 0.7
            white = dx * dx + dy * dy <= (size * 0.12) ** 2
            row += bytes((255, 255, 255)) if white else bytes((0xEE, 0x80, 0x2F))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _escape(text: str) -> str:
    return _c(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Atom and RSS in one stylesheet; no JavaScript, no outside resources.
FEED_XSL = """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:template match="/">
    <xsl:variable name="title" select="atom:feed/atom:title | rss/channel/title"/>
    <xsl:variable name="self" select="atom:feed/atom:link[@rel='self']/@href | rss/channel/atom:link[@rel='self']/@href"/>
    <html>
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <style>
          body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
          .note { background: #fff4e5; border: 1px solid #f0c08a; padding: .75rem 1rem; border-radius: 6px; }
          code { background: #f3f3f3; padding: .1rem .3rem; word-break: break-all; }
          article { border-bottom: 1px solid #ddd; padding: 1rem 0; }
          .meta { color: #666; font-size: .9rem; }
          .type { font-weight: 600; color: #b35c00; }
        </style>
      </head>
      <body>
        <p class="note">This is a web feed. Copy its address into a feed reader to subscribe:
          <code><xsl:value-of select="$self"/></code></p>
        <h1><xsl:value-of select="$title"/></h1>
        <p><xsl:value-of select="atom:feed/atom:subtitle | rss/channel/description"/></p>
        <xsl:for-each select="atom:feed/atom:entry | rss/channel/item">
          <article>
            <xsl:variable name="link" select="atom:link[not(@rel) or @rel='alternate']/@href | link"/>
            <h2>
              <xsl:choose>
                <xsl:when test="string($link)">
                  <a href="{$link}"><xsl:value-of select="atom:title | title"/></a>
                </xsl:when>
                <xsl:otherwise><xsl:value-of select="atom:title | title"/></xsl:otherwise>
              </xsl:choose>
            </h2>
            <p class="meta">
              <xsl:value-of select="atom:published | pubDate"/>
              <xsl:for-each select="atom:category[@scheme='urn:eventfeed:event-type']/@label">
                · <span class="type"><xsl:value-of select="."/></span>
              </xsl:for-each>
            </p>
            <p><xsl:value-of select="atom:summary | description"/></p>
          </article>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
"""
