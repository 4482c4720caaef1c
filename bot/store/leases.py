"""Leases: who leads the instances sharing one database, and which instances are alive.

A lease is a row (name, holder, expires). Taking or renewing it is one conditional UPDATE
(free, expired or already ours), or an INSERT when the row does not exist yet; the unique
name makes two instances racing for a new lease end with one holder. Times come from the
caller's clock, so the instances' clocks must agree (NTP) to well within a lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.base import StoreBase, aware, make_engine, utc
from bot.store.schema import leases

LEADER = "leader"
HEARTBEAT = "instance/"  # + the instance id: one row per running instance


class LeaseStore(StoreBase):
    def take_lease(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew `name` for `seconds` from `now`; False while someone else holds it."""
        expires = utc(now + timedelta(seconds=seconds))
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(leases)
                .where(
                    leases.c.name == name,
                    or_(leases.c.holder == holder, leases.c.expires < utc(now)),
                )
                .values(holder=holder, expires=expires)
            ).rowcount
        if taken:
            return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(leases).values(name=name, holder=holder, expires=expires))
        except IntegrityError:  # the row exists: held by someone else, or just taken
            return False
        return True

    def drop_lease(self, name: str, holder: str) -> None:
        """Give `name` up at once (a clean stop), so another instance need not wait it out."""
        with self.engine.begin() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease_holder(self, name: str, now: datetime) -> tuple[str, datetime] | None:
        """Who holds `name` and until when; None when nobody does."""
        query = select(leases.c.holder, leases.c.expires).where(
            leases.c.name == name, leases.c.expires >= utc(now)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.holder, aware(row.expires))

    def prune_heartbeats(self, now: datetime) -> int:
        """Forget instances whose heartbeat expired (each restart adds a new instance id)."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    delete(leases).where(
                        leases.c.name.startswith(HEARTBEAT), leases.c.expires < utc(now)
                    )
                ).rowcount
            )

    def live_instances(self, now: datetime) -> int:
        """Instances whose heartbeat has not expired."""
        query = (
            select(func.count())
            .select_from(leases)
            .where(leases.c.name.startswith(HEARTBEAT), leases.c.expires >= utc(now))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def leases_held(url: str, now: datetime) -> list[tuple[str, str]]:
    """(name, holder) of the leases not expired at `now`, read without opening the store
    (which would upgrade the schema, or refuse an old one): what `eventfeed doctor` shows.
    Raises DatabaseFailure when there is no database or no leases table yet."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(leases.c.name, leases.c.holder).where(leases.c.expires >= now)
            ).all()
    finally:
        engine.dispose()
    return [(row.name, row.holder) for row in rows]
