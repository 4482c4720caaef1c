"""Prometheus text exposition (format 0.0.4) for /metrics: counts from the store at scrape
time, scan and send latencies observed by the daemon (the Telegram side times its sends into
`Metrics.send_seconds` through the `observe` it is given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.runtime.llm import REASONS, LlmStats

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Histogram:
    """Cumulative buckets, sum and count, as Prometheus expects them."""

    buckets: tuple[float, ...] = _BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * len(_BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.total += seconds
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1

    def lines(self, name: str) -> list[str]:
        out = [
            f'{name}_bucket{{le="{_number(bound)}"}} {n}'
            for bound, n in zip(self.buckets, self.counts, strict=True)
        ]
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {_number(self.total)}")
        out.append(f"{name}_count {self.count}")
        return out


@dataclass
class Metrics:
    """What the daemon measures itself; gauges come from the store at scrape time."""

    scan_seconds: Histogram = field(default_factory=Histogram)
    send_seconds: Histogram = field(default_factory=Histogram)
    scans: int = 0
    feed_writes: int = 0

    def render(
        self,
        counts: Mapping[str, int],
        deliveries: Mapping[str, int],
        llm: LlmStats | None = None,
    ) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[str]) -> None:
            lines.extend((f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples))

        metric(
            "eventfeed_articles",
            "gauge",
            "Articles in the feeds.",
            [f"eventfeed_articles {counts.get('articles', 0)}"],
        )
        metric(
            "eventfeed_events",
            "gauge",
            "Active headline events.",
            [f"eventfeed_events {counts.get('events', 0)}"],
        )
        metric(
            "eventfeed_failed_files",
            "gauge",
            "Files that could not be read or parsed.",
            [f"eventfeed_failed_files {counts.get('failed_files', 0)}"],
        )
        statuses = {"pending": 0, "sent": 0, "failed": 0, "gone": 0, **deliveries}
        metric(
            "eventfeed_deliveries",
            "gauge",
            "Telegram deliveries in the outbox, by status.",
            [
                f'eventfeed_deliveries{{status="{_label(s)}"}} {n}'
                for s, n in sorted(statuses.items())
            ],
        )
        metric(
            "eventfeed_scans_total",
            "counter",
            "Scans run.",
            [f"eventfeed_scans_total {self.scans}"],
        )
        metric(
            "eventfeed_feed_files_written_total",
            "counter",
            "Feed files written or removed.",
            [f"eventfeed_feed_files_written_total {self.feed_writes}"],
        )
        metric(
            "eventfeed_scan_duration_seconds",
            "histogram",
            "Time to scan the folder and rewrite the feeds.",
            self.scan_seconds.lines("eventfeed_scan_duration_seconds"),
        )
        metric(
            "eventfeed_send_duration_seconds",
            "histogram",
            "Time of one Telegram send.",
            self.send_seconds.lines("eventfeed_send_duration_seconds"),
        )
        if llm is not None:  # extract.backend llm or llm+rules
            _llm_metrics(llm, metric)
        return "\n".join(lines) + "\n"


def _llm_metrics(llm: LlmStats, metric: Callable[[str, str, str, list[str]], None]) -> None:
    for name, help_text, value in (
        ("requests", "Requests sent to the extraction model.", llm.requests),
        ("answers", "Answers of the extraction model that parsed.", llm.answers),
        ("cached", "Articles whose model answer came from the cache.", llm.cached),
        ("repaired", "Answers that parsed only after the repair request.", llm.repaired),
    ):
        metric(
            f"eventfeed_llm_{name}_total",
            "counter",
            help_text,
            [f"eventfeed_llm_{name}_total {value}"],
        )
    metric(
        "eventfeed_llm_fallbacks_total",
        "counter",
        "Articles left with the rules' events because the model failed, by reason.",
        [f'eventfeed_llm_fallbacks_total{{reason="{r}"}} {llm.fallbacks[r]}' for r in REASONS],
    )
    metric(
        "eventfeed_llm_dropped_total",
        "counter",
        "What grounding dropped from the model's answers: items not in the article, and events "
        "left with nothing grounded.",
        [
            f'eventfeed_llm_dropped_total{{what="items"}} {llm.dropped_items}',
            f'eventfeed_llm_dropped_total{{what="events"}} {llm.dropped_events}',
        ],
    )


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else f"{value:.1f}"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
