"""A feed page's documents written to the feeds folder: what a large publish's worker
processes run (see `publish`). Apart from `publish` so that a worker never imports the store:
the workers' fork server imports what they run before the first one starts (see `pool`), and
SQLAlchemy alone is half of `publish`'s import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.runtime.files import atomic_write
from bot.site.catalog import FORMATS, Entry, Feed, FeedSite, Fragments, Page
from bot.site.render import render_documents


@dataclass(frozen=True, slots=True)
class PageTask:
    """One page of a feed to write: the current one (number None) or an archive page."""

    name: str
    title: str
    number: int | None
    size: int  # the feed's entries
    count: int  # its archive pages
    written: int = 1  # the pages of the feed this publish writes


def write_page(
    site: FeedSite,
    folder: Path,
    task: PageTask,
    entries: Sequence[Entry],
    fragments: Fragments | None = None,
) -> list[str]:
    """Write the page's documents; returns the paths that changed. Needs no database: it runs
    in a worker process for a large publish, where writing the files too spares sending
    their bytes back."""
    page = Page(Feed(task.name, task.title, ()), tuple(entries), task.number, task.count)
    stem = page.name_for(task.number)
    documents = render_documents(site, page, fragments)
    return [
        f"{stem}.{fmt}"
        for fmt in FORMATS
        if atomic_write(folder / f"{stem}.{fmt}", documents[fmt], durable=False)
    ]
