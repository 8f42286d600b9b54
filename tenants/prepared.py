"""ORM querysets compiled to SQL once per process, for the hottest read paths.

Django compiles a queryset to SQL on every evaluation. For the API-key lookup (a join with
every column of two models) and the agent lookup with its object-permission ``EXISTS``, the
compilation cost more CPU than everything else in the request. ``PreparedQuery`` asks the ORM
for the SQL once, with placeholder values, and then sends that same SQL with each call's values:
the SQL stays the ORM's own (joins, quoting, column lists follow the models), the row values go
through the same converters as ``values_list()``, and the query runs through Django's cursor,
so query counting, metrics and the connection pool see it as any other query.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet


class PreparedQuery:
    """``build(**placeholders)`` returns a ``values_list()`` queryset; ``rows(**values)`` runs
    its SQL with ``values`` in the placeholders' places.

    Each placeholder must appear exactly once among the compiled query's parameters (pick
    values no constant of the query can equal); anything else in ``build`` is fixed.
    """

    def __init__(self, build: Callable[..., QuerySet], **placeholders: Any) -> None:
        self._build = build
        self._placeholders = placeholders
        self._compiled: dict[str, tuple[str, list[Any], dict[str, int], Any]] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> tuple[str, list[Any], dict[str, int], Any]:
        queryset = self._build(**self._placeholders)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        params = list(params)
        positions: dict[str, int] = {}
        for name, placeholder in self._placeholders.items():
            found = [i for i, value in enumerate(params) if value == placeholder]
            if len(found) != 1:
                raise ValueError(f"Placeholder {name!r} appears {len(found)} times in {sql!r}.")
            positions[name] = found[0]
        connection = connections[using]
        converters = [
            (
                column,
                connection.ops.get_db_converters(column) + column.get_db_converters(connection),
            )
            for column, _sql, _alias in compiler.select
        ]
        # As ``ValuesListIterable``: the SQL lists extra, then field, then annotation columns;
        # rows come back in the order ``values_list()`` named them.
        query = queryset.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        fields = [
            *queryset._fields,
            *(f for f in query.annotation_select if f not in queryset._fields),
        ]
        order = [names.index(name) for name in fields] if fields and fields != names else None
        return sql, params, positions, (converters, order)

    def rows(self, using: str = "default", **values: Any) -> list[tuple[Any, ...]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(using, self._compile(using))
        sql, template, positions, (converters, order) = compiled
        params = list(template)
        for name, position in positions.items():
            params[position] = values[name]
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        rows = [_converted(row, converters, connection) for row in fetched]
        if order is not None:
            rows = [tuple(row[i] for i in order) for row in rows]
        return rows


def _converted(row: Sequence[Any], converters: list[Any], connection: Any) -> tuple[Any, ...]:
    values = list(row)
    for index, (column, column_converters) in enumerate(converters):
        for converter in column_converters:
            values[index] = converter(values[index], column, connection)
    return tuple(values)


def concrete_attnames(model: type[Model]) -> list[str]:
    """The attribute names of ``model``'s columns, in ``from_db`` order."""
    return [field.attname for field in model._meta.concrete_fields]


def instance_from_values(model: type[Model], values: Sequence[Any], using: str = "default"):
    """A model instance from the values of all its columns (``concrete_attnames`` order), as
    the ORM builds one from a row."""
    return model.from_db(using, concrete_attnames(model), values)
