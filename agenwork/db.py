"""Hot statements compiled by the ORM once per database vendor, then run with new values.

- Only for the statements a benchmark proved need it; each names its benchmark where it is
  declared and has an equivalence test (the same rows as the plain ORM). Everything else uses
  the ORM as usual.
- Why: on the decisions API's hot path the ORM's compiler cost more CPU per call than PostgreSQL
  spent answering (bench/bench_decisions_api.py; CPU per decision 1.26 → 0.56 ms without it).
  A statement compiled once and cached skips exactly that cost: the SQL is still the ORM's.
- A value left open is a `Param`, adapted on each run by the field it is compared with or stored
  in, as the ORM adapts a value. Constants of the queryset are adapted once, per vendor.
- This module imports no app: the statements are declared beside their models' users.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import connections, router
from django.db.models import Expression, Field, Model, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

Converters = dict[int, tuple[list[Callable[..., Any]], Any]]


class Param(Expression):
    """A named value left open in a compiled statement; its field adapts each value given."""

    def __init__(self, name: str, target: Field | None = None, *, for_save: bool = False) -> None:
        super().__init__()
        self.name, self.target, self.for_save = name, target, for_save

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [self]

    def adapt(self, value: Any, connection: Any) -> Any:
        if self.for_save:
            return self.target.get_db_prep_save(value, connection)
        return self.target.get_db_prep_value(value, connection, prepared=False)


@dataclass(frozen=True)
class _Compiled:
    """One statement's SQL for one vendor, its parameters (adapted constants and Params), and
    how to read its rows: converters by column, and a model's fields and annotations."""

    sql: str
    params: tuple[Any, ...]
    converters: Converters
    attnames: tuple[str, ...] = ()
    model_columns: tuple[int, ...] = ()
    annotations: tuple[tuple[str, int], ...] = ()

    def bind(self, values: dict[str, Any], connection: Any) -> list[Any]:
        return [
            param.adapt(values[param.name], connection) if isinstance(param, Param) else param
            for param in self.params
        ]


class CompiledQuery:
    """A queryset compiled once per database vendor, run with new values.

    - `build` takes the open values by keyword and returns the queryset; it runs once, with a
      `Param` for each. A Param may only be compared with a field (`field=`, `__in`, `__gt`…).
    """

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        names = inspect.signature(build).parameters
        self.queryset = build(**{name: Param(name) for name in names})
        _bind_lookup_params(self.queryset.query.where)
        for annotation in self.queryset.query.annotations.values():
            inner = getattr(annotation, "query", None)  # Exists(…) and Subquery(…)
            if inner is not None:
                _bind_lookup_params(inner.where)
        self._by_vendor: dict[str, _Compiled] = {}

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        """The rows as tuples, each value converted as the ORM converts it."""
        return self._run(values)[2]

    def first(self, **values: Any) -> Model | None:
        """The first row as a model instance with its annotations set, or None."""
        alias, compiled, rows = self._run(values)
        if not rows:
            return None
        row = rows[0]
        model = self.queryset.model
        instance = model.from_db(alias, compiled.attnames, [row[i] for i in compiled.model_columns])
        for name, position in compiled.annotations:
            setattr(instance, name, row[position])
        return instance

    def _run(self, values: dict[str, Any]) -> tuple[str, _Compiled, list[tuple[Any, ...]]]:
        alias = self.queryset.db
        connection = connections[alias]
        compiled = self._compiled(connection)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.bind(values, connection))
            rows = cursor.fetchall()
        return alias, compiled, list(_converted(rows, compiled.converters, connection))

    def _compiled(self, connection: Any) -> _Compiled:
        compiled = self._by_vendor.get(connection.vendor)
        if compiled is None:
            compiled = self._by_vendor[connection.vendor] = self._compile(connection)
        return compiled

    def _compile(self, connection: Any) -> _Compiled:
        compiler = self.queryset.query.clone().get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        klass_info = compiler.klass_info or {"select_fields": ()}
        columns = tuple(klass_info["select_fields"])
        return _Compiled(
            sql=sql,
            params=_checked(params),
            converters=compiler.get_converters([column for column, _, _ in compiler.select]),
            attnames=tuple(compiler.select[i][0].target.attname for i in columns),
            model_columns=columns,
            annotations=tuple((compiler.annotation_col_map or {}).items()),
        )


def _bind_lookup_params(node: Any) -> None:
    """Give each Param the field its lookup compares it with, so that it adapts values alike."""
    for child in getattr(node, "children", ()):
        _bind_lookup_params(child)
    rhs = getattr(node, "rhs", None)
    for value in rhs if isinstance(rhs, list | tuple) else [rhs]:
        if isinstance(value, Param) and value.target is None:
            value.target = node.lhs.output_field


def _checked(params: Sequence[Any]) -> tuple[Any, ...]:
    for param in params:
        if isinstance(param, Param) and param.target is None:
            raise TypeError(f"Param {param.name!r} is not compared with a field in a filter")
    return tuple(params)


def _converted(
    rows: Sequence[tuple[Any, ...]], converters: Converters, connection: Any
) -> Iterator[tuple[Any, ...]]:
    """The rows with each column's converters applied (the ORM's `apply_converters`)."""
    if not converters:
        yield from rows
        return
    for row in rows:
        values = list(row)
        for position, (functions, expression) in converters.items():
            for function in functions:
                values[position] = function(values[position], expression, connection)
        yield tuple(values)


_inserts: dict[tuple[type[Model], tuple[str, ...], str], _Compiled] = {}


def insert_row(model: type[Model], values: dict[str, Any]) -> None:
    """INSERT one row of these field values; the statement compiled once per vendor and fields.

    - Only for append-only rows nobody reads back in the same call: no instance, no signals,
      no returned id, no `pre_save` (an auto_now field's value must be given).
    """
    connection = connections[router.db_for_write(model)]
    key = (model, tuple(values), connection.vendor)
    compiled = _inserts.get(key)
    if compiled is None:
        compiled = _inserts[key] = _compile_insert(model, key[1], connection)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, compiled.bind(values, connection))


def _compile_insert(model: type[Model], names: tuple[str, ...], connection: Any) -> _Compiled:
    fields = [model._meta.get_field(name) for name in names]
    row = SimpleNamespace(
        **{
            field.attname: Param(name, field, for_save=True)
            for name, field in zip(names, fields, strict=True)
        }
    )
    query = InsertQuery(model)
    query.insert_values(fields, [row], raw=True)
    ((sql, params),) = query.get_compiler(connection=connection).as_sql()
    return _Compiled(sql=sql, params=tuple(params), converters={})


def insert_skipping_conflicts(rows: Sequence[Model], *, returning: Sequence[str]) -> list[tuple]:
    """INSERT new rows, skipping those a unique constraint already holds; return the new ones'
    `returning` fields. One statement, compiled by the ORM on each call (not a hot statement).

    - PostgreSQL: INSERT … ON CONFLICT DO NOTHING RETURNING; SQLite: INSERT OR IGNORE … RETURNING.
    - Rows without a primary key, of one model; no signals, `pre_save` as `save()` runs it.
    """
    if not rows:
        return []
    meta = type(rows[0])._meta
    connection = connections[router.db_for_write(type(rows[0]))]
    query = InsertQuery(type(rows[0]), on_conflict=OnConflict.IGNORE)
    query.insert_values([field for field in meta.concrete_fields if not field.primary_key], rows)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.get_field(name) for name in returning]
    ((sql, params),) = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    columns = [field.get_col(meta.db_table) for field in compiler.returning_fields]
    return list(_converted(found, compiler.get_converters(columns), connection))
