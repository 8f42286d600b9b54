"""PostgreSQL with django-prometheus's query metrics, a cheaper pool health check and clear
connection errors.

- **Health check.** With ``CONN_HEALTH_CHECKS`` Django has psycopg's pool check every
  connection it hands out, which is one more round trip to PostgreSQL per request. Here a
  connection is checked only when it was not checked in the last
  ``POOL_CHECK_INTERVAL_SECONDS``: a connection in steady use costs one check a second, while
  one that sat idle (through a PostgreSQL restart, say) is still checked before use.
- **Errors.** When the pool cannot connect, psycopg_pool reports only
  ``couldn't get a connection after 10.00 sec``. The real cause (server down, database
  missing, bad password) is then found by connecting once directly, and becomes the error.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from django.db.utils import OperationalError
from django_prometheus.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout

POOL_CHECK_INTERVAL_SECONDS = 1.0
# How long the diagnostic direct connection may take (it runs only after the pool gave up).
DIAGNOSTIC_CONNECT_TIMEOUT_SECONDS = 5


def check_connection_now_and_then(conn: psycopg.Connection) -> None:
    """psycopg_pool's ``check``: ``ConnectionPool.check_connection`` (an empty query), unless
    this connection passed it less than ``POOL_CHECK_INTERVAL_SECONDS`` ago."""
    now = time.monotonic()
    if now - getattr(conn, "_voiceagents_checked_at", -1e9) < POOL_CHECK_INTERVAL_SECONDS:
        return
    ConnectionPool.check_connection(conn)
    conn._voiceagents_checked_at = now  # type: ignore[attr-defined]


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        # Django passes its check only when CONN_HEALTH_CHECKS is on; swap in the cheaper one.
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_connection_now_and_then
        return pool

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except PoolTimeout as exc:
            cause = self._direct_connection_error()
            if cause is None:
                raise  # PostgreSQL answers: the pool is only exhausted (all connections busy)
            raise OperationalError(
                f"Cannot connect to PostgreSQL: {cause} (the connection pool gave up: {exc})"
            ) from cause

    def _direct_connection_error(self) -> psycopg.Error | None:
        """Why a plain connection with the pool's settings fails, or None if it succeeds."""
        params = {**self.get_connection_params(), "autocommit": True}
        params.pop("cursor_factory", None)
        params["connect_timeout"] = min(
            int(params.get("connect_timeout") or DIAGNOSTIC_CONNECT_TIMEOUT_SECONDS),
            DIAGNOSTIC_CONNECT_TIMEOUT_SECONDS,
        )
        try:
            psycopg.connect(**params).close()
        except psycopg.Error as exc:
            return exc
        return None
