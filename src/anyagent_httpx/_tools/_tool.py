"""``Tool`` (a spec, the function it runs, and how it may run) and ``@tool``, which builds one
from a typed function::

    @tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        '''The current weather in a city.

        Args:
            city: The city's name, in English.
            unit: Celsius or Fahrenheit.
        '''

The JSON schema comes from the signature (``typing.get_type_hints``), the descriptions from the
docstring (``_schema``). ``Tool.validate`` checks the model's arguments against the schema with
the core validator and converts them to the annotated Python types; ``ToolError`` is what a tool
raises for a clean error result.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, overload

import attrs

from anyagent_core import ToolSpec, thaw_json
from anyagent_core.value import Value
from anyagent_httpx._hints import load_on_read

from ._context import ToolContext

if TYPE_CHECKING:
    from ._schema import Shape, Signature

__all__ = ["Tool", "ToolError", "ToolInputError", "tool"]


class ToolError(Exception):
    """Raised by a tool for a clean error result: the model sees the message only, no traceback."""


class ToolInputError(ToolError):
    """The arguments failed validation; the message names every bad field."""


def _positive_or_none(instance: object, attribute: attrs.Attribute[float | None], value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds or None, not {value!r}")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Tool(Value):
    """A tool the model may call: its spec (name, description, JSON schema) and the function run.

    Build one with ``@tool``; constructing it directly takes the spec as given, and ``validate``
    then checks arguments against the schema without converting them.
    """

    spec: ToolSpec
    function: Callable[..., Any] = attrs.field(repr=False)
    """Called with the validated arguments as keywords; sync or async."""
    timeout: float | None = attrs.field(default=None, validator=_positive_or_none)
    """Seconds a call may take; None means no limit."""
    read_only: bool = False
    """It changes nothing: it may run in plan mode, and concurrently with other read-only calls."""
    edits_files: bool = False
    """It changes files under the roots (the acceptEdits permission mode allows it without asking)."""
    needs_permission: bool = False
    """In the default permission mode, ask before running it (shell commands, writes)."""
    rule_argument: str | None = None
    """The argument permission rules match against: ``command`` for bash, ``path`` for file tools."""
    idempotent: bool = False
    """Running a call twice does no more than running it once: a durable run
    (``anyagent_httpx.durable``) repeats a call cut off by a crash only for such tools (and
    read-only ones); for the others the model is told the call was interrupted."""
    _signature: Signature | None = attrs.field(default=None, repr=False, eq=False, alias="signature")

    def __attrs_post_init__(self) -> None:
        from anyagent_core.schema import check_definition  # loaded with the first tool

        try:
            check_definition(self.spec.parameters)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"the parameters of tool {self.spec.name!r} are not a usable JSON schema: {exc}") from None

    @property
    def name(self) -> str:
        """The tool's name, as the model calls it."""
        return self.spec.name

    def validate(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments checked against ``spec.parameters`` and converted to the annotated Python
        types (TypedDict, attrs and dataclass instances, enums, tuples, paths...), as keywords for
        the function. Raises ``ToolInputError`` naming every bad field."""
        if not isinstance(input, Mapping):
            raise ToolInputError(f"the arguments must be a JSON object, not {type(input).__name__}")
        from anyagent_core.schema import validate

        errors = validate(input, self.spec.parameters)
        if errors:
            raise ToolInputError("; ".join(_field_message(error.path, error.message) for error in errors))
        if self._signature is None:
            arguments: dict[str, Any] = thaw_json(input)
            return arguments
        converted: dict[str, Any] = {}
        for key, value in input.items():
            shape = self._signature.parameters.get(key)
            try:
                converted[key] = thaw_json(value) if shape is None else shape.convert(value)
            except Exception as exc:
                raise ToolInputError(f"{key}: {exc}") from exc
        return converted


def _field_message(path: str, message: str) -> str:
    if path == "$":
        return message
    return f"{path.removeprefix('$').removeprefix('.')}: {message}"


# -- the decorator ---------------------------------------------------------------------------------


def _is_context(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is ToolContext


def _build_tool(
    func: Callable[..., Any],
    *,
    name: str | None,
    description: str | None,
    timeout: float | None,
    read_only: bool,
    edits_files: bool,
    needs_permission: bool,
    rule_argument: str | None,
    idempotent: bool = False,
) -> Tool:
    if not callable(func):
        raise TypeError(f"@tool needs a function, not {type(func).__name__}")
    from ._schema import Signature, Unsupported, jsonable, object_schema, parse_docstring, shape_of, type_name

    label = getattr(func, "__qualname__", None) or repr(func)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot make a tool of {label}: {exc}") from None
    target = func.func if isinstance(func, functools.partial) else func
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise TypeError(f"cannot resolve the annotations of {label}: {exc}") from None
    summary, param_docs = parse_docstring(inspect.getdoc(func))
    shapes: dict[str, Shape] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_parameter: str | None = None
    for parameter in signature.parameters.values():
        where = f"tool {label}: parameter {parameter.name!r}"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            raise TypeError(f"{where} ({star}{parameter.name}) is not supported: tools take named arguments only")
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise TypeError(f"{where} is positional-only, but tools are called with keyword arguments")
        if parameter.name not in hints:
            raise TypeError(f"{where} has no type annotation")
        annotation = hints[parameter.name]
        if _is_context(annotation):
            context_parameter = parameter.name
            continue
        try:
            shape = shape_of(annotation, ())
        except Unsupported as exc:
            raise TypeError(f"{where} has an unsupported type {type_name(annotation)}: {exc}") from None
        schema = dict(shape.schema)
        if "description" not in schema and param_docs.get(parameter.name):
            schema["description"] = param_docs[parameter.name]
        if parameter.default is parameter.empty:
            required.append(parameter.name)
        else:
            ok, value = jsonable(parameter.default)
            if ok:
                schema["default"] = value
        shapes[parameter.name] = shape
        properties[parameter.name] = schema
    if rule_argument is not None and rule_argument not in properties:
        raise ValueError(f"rule_argument {rule_argument!r} is not a parameter of {label}")
    spec = ToolSpec(
        name=name if name is not None else getattr(target, "__name__", ""),
        description=description if description is not None else summary,
        parameters=object_schema(properties, required),
    )
    return Tool(
        spec=spec,
        function=func,
        timeout=timeout,
        read_only=read_only,
        edits_files=edits_files,
        needs_permission=needs_permission,
        rule_argument=rule_argument,
        idempotent=idempotent,
        signature=Signature(parameters=shapes, context_parameter=context_parameter),
    )


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    func: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    read_only: bool = False,
    edits_files: bool = False,
    needs_permission: bool = False,
    rule_argument: str | None = None,
    idempotent: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


@overload
def tool(
    func: str,
    description: str,
    input_schema: Mapping[str, Any] | type,
    /,
    annotations: Any = None,
    *,
    timeout: float | None = None,
    read_only: bool = False,
    edits_files: bool = False,
    needs_permission: bool = False,
    rule_argument: str | None = None,
    idempotent: bool = False,
) -> Callable[[Callable[[dict[str, Any]], Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | str | None = None,
    description_: str | None = None,
    input_schema: Mapping[str, Any] | type | None = None,
    /,
    annotations: Any = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    read_only: bool = False,
    edits_files: bool = False,
    needs_permission: bool = False,
    rule_argument: str | None = None,
    idempotent: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a ``Tool`` of a typed function, as ``@tool`` or ``@tool(name=..., timeout=...)``.

    The name defaults to the function's, the description to its docstring's text before the first
    section; parameter descriptions come from the docstring's Args / Parameters / ``:param:``
    entries or from ``Annotated[X, "description"]`` (a mapping in ``Annotated`` adds schema
    keywords, such as ``{"minimum": 1}``). Parameters with defaults are not required. A parameter
    annotated ``ToolContext`` is filled in when the tool runs and is not part of the schema.
    ``idempotent=True`` says a call may safely run twice (a durable run then repeats one a
    crash cut off).

    claude-agent-sdk's form is accepted too: ``@tool("add", "Add two numbers", {"a": float,
    "b": float})`` over a handler taking one dict of arguments (``async def add(args)``). The
    schema is a dict of parameter names to types (all required), a TypedDict, or a JSON schema
    (a dict with ``type`` and ``properties``); ``annotations`` (an object or dict with
    ``readOnlyHint``, or ``idempotentHint``) may mark the tool read-only (or idempotent). The
    handler may return an MCP-shaped result, ``{"content": [{"type": "text", "text": ...}],
    "is_error": True}``, read as such.

    Raises ``TypeError`` naming the function, the parameter and the type for ``*args``,
    ``**kwargs``, a missing annotation or a type with no JSON schema equivalent.
    """
    options = {
        "timeout": timeout,
        "read_only": read_only,
        "edits_files": edits_files,
        "needs_permission": needs_permission,
        "rule_argument": rule_argument,
        "idempotent": idempotent,
    }
    if isinstance(func, str):
        if not isinstance(description_, str) or input_schema is None:
            raise TypeError("tool(name, description, input_schema) takes a name, a description and a schema")
        tool_name, text, schema = func, description_, input_schema
        if _hint(annotations, "readOnlyHint", "read_only_hint"):
            options["read_only"] = True
        if _hint(annotations, "idempotentHint", "idempotent_hint"):
            options["idempotent"] = True
        return lambda handler: _dict_tool(handler, tool_name, text, schema, **options)
    if description_ is not None or input_schema is not None or annotations is not None:
        raise TypeError("@tool takes a function, or a name, a description and a schema (claude-agent-sdk's form)")
    if func is not None:
        return _build_tool(func, name=name, description=description, **options)  # type: ignore[arg-type]
    return lambda function: _build_tool(function, name=name, description=description, **options)  # type: ignore[arg-type]


def _hint(annotations: Any, *names: str) -> bool:
    for key in names:
        value = annotations.get(key) if isinstance(annotations, Mapping) else getattr(annotations, key, None)
        if value:
            return True
    return False


def _dict_tool(
    handler: Callable[[dict[str, Any]], Any],
    name: str,
    description: str,
    input_schema: Mapping[str, Any] | type,
    **options: Any,
) -> Tool:
    """A tool whose handler takes one dict of the (validated, converted) arguments."""
    if not callable(handler):
        raise TypeError(f"@tool({name!r}, ...) needs a function, not {type(handler).__name__}")
    from ._schema import Signature, Unsupported, object_schema, shape_of, type_name  # loaded with the first tool

    shapes: dict[str, Shape] = {}
    if isinstance(input_schema, Mapping) and isinstance(input_schema.get("type"), str):
        parameters: dict[str, Any] = dict(input_schema)  # a JSON schema
    elif isinstance(input_schema, Mapping):
        properties: dict[str, Any] = {}
        for key, annotation in input_schema.items():
            try:
                shape = shape_of(annotation, ())
            except Unsupported as exc:
                raise TypeError(
                    f"tool {name!r}: parameter {key!r} has an unsupported type {type_name(annotation)}: {exc}"
                ) from None
            shapes[key] = shape
            properties[key] = dict(shape.schema)
        parameters = object_schema(properties, list(properties))
    else:
        try:
            whole = shape_of(input_schema, ())
        except Unsupported as exc:
            raise TypeError(f"tool {name!r}: the schema {type_name(input_schema)} is not usable: {exc}") from None
        if whole.schema.get("type") != "object":
            raise TypeError(f"tool {name!r}: the schema must describe an object, not {type_name(input_schema)}")
        parameters = dict(whole.schema)
    if _is_async_function(handler):

        async def call_async(**arguments: Any) -> Any:
            return await handler(arguments)

        function: Callable[..., Any] = call_async
    else:

        def call(**arguments: Any) -> Any:
            return handler(arguments)

        function = call
    spec = ToolSpec(name=name, description=description, parameters=parameters)
    signature = Signature(parameters=shapes, context_parameter=None) if shapes else None
    return Tool(spec=spec, function=function, signature=signature, **options)


def _is_async_function(function: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(function, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    return call is not None and inspect.iscoroutinefunction(call)


def _hint_names() -> dict[str, Any]:
    """The names ``Tool``'s annotations use that this module imports only for type checkers:
    loaded when the annotations are first read (``typing.get_type_hints``)."""
    from ._schema import Shape, Signature

    return {"Shape": Shape, "Signature": Signature}


load_on_read(Tool, _hint_names)
