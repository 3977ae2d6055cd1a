"""Real servers started from wheels, for the dev stack and the tests (DESIGN.md, "Running it").

Not for production: docker-compose.yml and docs/production.md describe that shape.
"""

from devstack.postgres import PostgresServer, start_postgres
from devstack.process import (
    ManagedProcess,
    ServerStartError,
    ensure_port_free,
    free_port,
    stop_last_first,
    wait_for_port,
    wait_until,
)
from devstack.redis_server import RedisServer, start_redis
from devstack.temporal_server import TemporalServer, start_temporal

__all__ = [
    "ManagedProcess",
    "PostgresServer",
    "RedisServer",
    "ServerStartError",
    "TemporalServer",
    "ensure_port_free",
    "free_port",
    "start_postgres",
    "start_redis",
    "start_temporal",
    "stop_last_first",
    "wait_for_port",
    "wait_until",
]
