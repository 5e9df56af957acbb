"""The JSON Schema subset tool arguments and structured outputs are checked against:
``check_definition`` (is a schema usable), ``validate`` (the errors of a value), ``check``
(raise ``SchemaValidationError``)."""

from __future__ import annotations

from ._schema import SchemaError, SchemaValidationError, check, check_definition, validate

__all__ = ["SchemaError", "SchemaValidationError", "check", "check_definition", "validate"]
