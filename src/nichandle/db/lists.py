"""A column matched against a list of any length in one statement, with one bound parameter.

``column.in_(values)`` renders a bound parameter per value: a registrant of 10,000 domains took
ten statements of 1,000 (both databases cap the parameters of one statement), and rendering
them cost more of our CPU than the database spent running them. ``among`` sends the list as one
value instead: a PostgreSQL array (``column = ANY($1::INTEGER[])``, which uses the column's
index like an IN list), or a JSON array that SQLite's ``json_each`` reads.

For integer and text columns (what JSON carries as itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, TypeDecorator, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

Column = ColumnElement[Any] | QueryableAttribute[Any]


class _Values(TypeDecorator[list[Any]]):
    """The list as one parameter: an array of the column's type, or JSON text."""

    impl = String
    cache_ok = True

    def __init__(self, element: TypeEngine[Any]) -> None:
        super().__init__()
        self.element = element

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.element))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return value
        return json.dumps(value)


class _Among(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()
    # What the statement cache keys on (SQLAlchemy's own declaration, an instance variable).
    _traverse_internals = [  # noqa: RUF012
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Column, values: Iterable[Any]) -> None:
        self.column = column.expression
        self.values = bindparam(None, list(values), type_=_Values(self.column.type))


def among(column: Column, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (no value: false)."""
    return _Among(column, values)


@compiles(_Among, "postgresql")
def _any(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY({values})"


@compiles(_Among)
def _json_each(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608 - both compiled
