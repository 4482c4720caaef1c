"""WebSub (https://www.w3.org/TR/websub/) publisher pings: tell the hub which feeds changed.

Optional: only when `feeds.websub_hub` is configured. A failing hub costs a log line, never a
scan; readers still poll.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import aiohttp

log = logging.getLogger(__name__)


async def ping_hub(hub: str, topics: Iterable[str], seconds: float = 10.0) -> int:
    """POST hub.mode=publish for each topic URL; returns how many the hub accepted (2xx)."""
    accepted = 0
    client_timeout = aiohttp.ClientTimeout(total=seconds)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        for topic in topics:
            try:
                async with session.post(
                    hub, data={"hub.mode": "publish", "hub.url": topic}
                ) as response:
                    if 200 <= response.status < 300:
                        accepted += 1
                    else:
                        log.warning("websub hub=%s topic=%s status=%d", hub, topic, response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("websub hub=%s unreachable error=%s", hub, exc)
                break
    return accepted
