"""Querysets compiled to SQL once per process, then run with fresh parameter values.

For a small indexed query Django spends several times longer building the SQL than PostgreSQL
spends running it (docs/benchmarks.md). A hot path that runs the same query shape on every
request can build it once: the queryset is written with the ORM as usual, but with sentinel
values where the parameters go; it is compiled once, and each run swaps the real values in at
the sentinels' positions in the parameter list. The SQL therefore stays exactly what the ORM
writes for the current models, and a sentinel that does not come out as a plain parameter
(folded into the SQL, or missing) is refused when the query is first compiled.

Rows come back as dicts of raw database values: no model instances and no field converters,
so JSON columns arrive as text (psycopg 3 leaves jsonb parsing to Django's JSONField).
"""

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# Values nobody would ever ask about, so their positions in the compiled parameters are
# unambiguous. One per Python type a parameter can have here.
SENTINEL_INT = -7_301_924_611
SENTINEL_TEXT = "\x1fprepared-query-sentinel\x1f"
SENTINEL_DATETIME = datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
_SENTINELS: dict[type, Any] = {int: SENTINEL_INT, str: SENTINEL_TEXT, datetime: SENTINEL_DATETIME}


class PreparedQuery:
    """`build(**sentinels)` returns the queryset; `rows(**values)` runs it with real values.

    Every parameter name maps to the Python type of its value: `PreparedQuery(build,
    provider_id=int, at=datetime)`. Two parameters of one type are not supported.
    """

    def __init__(self, build: Callable[..., QuerySet], **parameter_types: type) -> None:
        kinds = list(parameter_types.values())
        if len(set(kinds)) != len(kinds) or not set(kinds) <= set(_SENTINELS):
            names = sorted(kind.__name__ for kind in _SENTINELS)
            raise TypeError(f"give at most one parameter of each type out of {names}")
        self._build = build
        self._types = parameter_types
        self._compiled: dict[str, tuple[str, list[Any], dict[str, list[int]]]] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> tuple[str, list[Any], dict[str, list[int]]]:
        sentinels = {name: _SENTINELS[kind] for name, kind in self._types.items()}
        queryset = self._build(**sentinels)
        sql, params = queryset.query.get_compiler(using=using).as_sql()
        params = list(params)
        positions = {
            name: [i for i, param in enumerate(params) if _same(param, sentinel)]
            for name, sentinel in sentinels.items()
        }
        missing = [name for name, found in positions.items() if not found]
        if missing or SENTINEL_TEXT in sql:
            raise ValueError(f"parameters not compiled as placeholders: {missing or 'text'}")
        return sql, params, positions

    def rows(self, *, using: str = "default", **values: Any) -> list[dict[str, Any]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(using, self._compile(using))
        sql, template, positions = compiled
        params = list(template)
        for name, indexes in positions.items():
            for index in indexes:
                params[index] = values[name]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            columns = [column.name for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _same(param: Any, sentinel: Any) -> bool:
    return type(param) is type(sentinel) and param == sentinel


def json_value(value: Any) -> Any:
    """A jsonb column's value from a raw row: text under psycopg 3, parsed elsewhere."""
    return json.loads(value) if isinstance(value, str | bytes) else value
