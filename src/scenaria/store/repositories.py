"""A transaction's repositories: every query Scenaria runs lives behind these."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from scenaria.store.access_repo import AccessRepo, AuditRepo
from scenaria.store.catalog_repo import DatabaseRepo, ProfileRepo, PromoRepo
from scenaria.store.dialect import counter_shard
from scenaria.store.jobs_repo import JobRepo
from scenaria.store.outbox_repo import EventRepo, OutboxRepo
from scenaria.store.scenarios_repo import ScenarioRepo
from scenaria.store.segments_repo import SegmentRepo
from scenaria.store.stats_repo import CounterRepo
from scenaria.store.tasks_repo import TaskRepo, VisitRepo


class Tx:
    """Repositories bound to one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.databases = DatabaseRepo(conn)
        self.profiles = ProfileRepo(conn)
        self.scenarios = ScenarioRepo(conn)
        self.promo = PromoRepo(conn)
        self.tasks = TaskRepo(conn)
        self.visits = VisitRepo(conn)
        self.outbox = OutboxRepo(conn)
        self.events = EventRepo(conn)
        self.counters = CounterRepo(conn, counter_shard(conn))
        self.access = AccessRepo(conn)
        self.audit = AuditRepo(conn)
        self.segments = SegmentRepo(conn)
        self.jobs = JobRepo(conn)
