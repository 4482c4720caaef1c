"""Instances sharing one database: which one leads, and how many are alive.

The leader scans the folder, writes the feeds and polls Telegram (which allows one getUpdates
consumer per bot); every instance serves HTTP and delivers from the outbox. Leadership is a
lease in the store, renewed every third of its length, so a dead leader is replaced within
one lease. Each instance also renews a heartbeat row; the live ones split Telegram's per-bot
rate between them (`bot.telegram.limits.shared_limits`). With SQLite there is one instance:
it always leads and writes no lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.store import Store
from bot.store.base import DatabaseFailure, backend_name
from bot.store.leases import HEARTBEAT, LEADER

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Role:
    leader: bool
    instances: int  # live instances, this one included


def default_instance() -> str:
    """Unique among instances on one database, also for several on one host."""
    return f"{socket.gethostname()}-{os.getpid()}"


def is_solo(url: str) -> bool:
    """SQLite is one process's database: no lease is needed, the one instance leads."""
    return backend_name(url) == "sqlite"


class Membership:
    """This instance's heartbeat and its claim on leadership, renewed by `renew`."""

    def __init__(
        self,
        store: Store,
        instance: str,
        lease_seconds: float,
        clock: Callable[[], datetime],
        solo: bool,
    ) -> None:
        self.store = store
        self.instance = instance
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.solo = solo
        self.role = Role(leader=solo, instances=1)

    @property
    def period(self) -> float:
        """How often to renew: a third of the lease, so one late renewal loses nothing."""
        return self.lease_seconds / 3

    async def renew(self) -> Role:
        """Renew the heartbeat and take or keep leadership; a database error means following
        (the leader must not go on scanning without a lease it can prove)."""
        if self.solo:
            return self.role
        try:
            self.role = await asyncio.to_thread(self._renew)
        except DatabaseFailure as exc:
            log.warning("cannot renew the cluster lease error=%s; following", exc)
            self.role = Role(leader=False, instances=self.role.instances)
        return self.role

    def _renew(self) -> Role:
        now, store = self.clock(), self.store
        store.take_lease(HEARTBEAT + self.instance, self.instance, now, self.lease_seconds)
        leader = store.take_lease(LEADER, self.instance, now, self.lease_seconds)
        if leader:
            store.prune_heartbeats(now)
        return Role(leader, max(1, store.live_instances(now)))

    async def leave(self) -> None:
        """A clean stop hands leadership over at once instead of after the lease."""
        if self.solo:
            return
        try:
            await asyncio.to_thread(self.store.drop_lease, LEADER, self.instance)
            await asyncio.to_thread(self.store.drop_lease, HEARTBEAT + self.instance, self.instance)
        except DatabaseFailure as exc:  # the lease runs out by itself
            log.warning("cannot give up the cluster lease error=%s", exc)
