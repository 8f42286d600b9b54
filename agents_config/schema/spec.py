"""Field definitions -> validated, compiled turn schema (pydantic model + OpenAI JSON Schema)."""

from __future__ import annotations

import copy
import hashlib
import json
import keyword
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError

from agents_config.user_regex import MAX_SUBJECT_LENGTH, UserRegexError, compile_user_regex

from .extraction import StreamingExtractor
from .grammar import FieldTypeError, LiteralValue, TypeSpec, parse_field_type
from .openai_schema import object_schema, property_schema
from .text import json_body

logger = logging.getLogger(__name__)

MAX_FIELD_NAME_LENGTH = 64
MAX_FIELDS = 100
"""OpenAI strict mode documents 100 object properties as its long-standing limit."""

PLAIN_TEXT_ERROR = "model returned plain text instead of JSON"

InstructionsTiming = Literal["this_turn", "next_turn"]
"""When a turn's TTS-instructions field applies: ``this_turn`` orders it before the spoken
field (its audio waits for it); ``next_turn`` orders it right after the spoken field and applies
it from the next turn on (speech starts at once)."""

SPOKEN_ALIAS_NOTE = "The text spoken aloud to the user (the {name!r} field)."
"""Leads the aliased spoken property's description in the wire schema: the short key carries
no meaning of its own, so the description says what the field is."""

# Names that would shadow pydantic.BaseModel attributes on the generated model.
_RESERVED_NAMES = frozenset(n for n in dir(BaseModel) if not n.startswith("_"))
_NUMBER_CONSTRAINTS = frozenset({"ge", "gt", "le", "lt", "multiple_of"})
_LENGTH_CONSTRAINTS = frozenset({"min_length", "max_length"})
_ALLOWED_CONSTRAINTS: dict[str, frozenset[str]] = {
    "int": _NUMBER_CONSTRAINTS,
    "float": _NUMBER_CONSTRAINTS,
    "str": _LENGTH_CONSTRAINTS | {"pattern"},
    "list": _LENGTH_CONSTRAINTS,
}
_LOWER_BOUNDS = ("ge", "gt")
_UPPER_BOUNDS = ("le", "lt")

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldSpec:
    """One configured output field, as stored by the Django side."""

    name: str
    type: str
    description: str = ""
    required: bool = True
    default: Any = None
    constraints: Mapping[str, Any] = field(default_factory=dict)
    spoken: bool = False
    tts_instructions: bool = False
    hidden: bool = False


@dataclass(frozen=True)
class SchemaIssue:
    """One problem; ``loc`` is relative to the field list (``()`` = the schema as a whole)."""

    loc: Loc
    message: str

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.loc)
        return f"{where}: {self.message}" if where else self.message


class SchemaDefinitionError(ValueError):
    """Raised by :func:`compile_schema` with *all* issues found, not only the first."""

    def __init__(self, issues: Sequence[SchemaIssue]) -> None:
        self.issues = list(issues)
        super().__init__("invalid output schema: " + "; ".join(map(str, self.issues)))


@dataclass
class ValidationResult:
    """Outcome of :meth:`CompiledSchema.validate_output`; ``data`` is always usable."""

    data: dict[str, Any]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_field_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` can be a field of the generated model."""
    if not isinstance(name, str) or not name:
        raise ValueError("field name is required")
    if len(name) > MAX_FIELD_NAME_LENGTH:
        raise ValueError(f"field name must be at most {MAX_FIELD_NAME_LENGTH} characters")
    if not (name.isascii() and name.isidentifier()):
        raise ValueError(
            "field name must be a Python identifier: ASCII letters, digits and underscores, "
            "not starting with a digit"
        )
    if keyword.iskeyword(name):
        raise ValueError(f"'{name}' is a Python keyword")
    if name.startswith("_"):
        raise ValueError("field name must not start with '_'")
    if name in _RESERVED_NAMES or name.startswith("model_"):
        raise ValueError(f"'{name}' is reserved by pydantic")


def fields_checksum(fields: Sequence[FieldSpec]) -> str:
    """sha256 over a canonical JSON rendering of the field definitions (cache key)."""
    canonical = [
        {
            "name": f.name,
            "type": f.type,
            "description": f.description,
            "required": f.required,
            "default": f.default,
            "constraints": dict(f.constraints) if isinstance(f.constraints, Mapping) else None,
            "spoken": f.spoken,
            "tts_instructions": f.tts_instructions,
            "hidden": f.hidden,
        }
        for f in fields
    ]
    text = json.dumps(
        canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_constraints(kind: str, constraints: Any) -> list[tuple[Loc, str]]:
    """Problems with ``constraints`` for a field of ``kind`` (locs relative to constraints)."""
    if not isinstance(constraints, Mapping):
        return [((), "constraints must be a mapping of name to value")]
    allowed = _ALLOWED_CONSTRAINTS.get(kind, frozenset())
    problems: list[tuple[Loc, str]] = []
    for key, value in constraints.items():
        if key not in allowed:
            supported = ", ".join(sorted(allowed)) or "none"
            problems.append(
                ((str(key),), f"unknown constraint for {kind} (supported: {supported})")
            )
        elif key in _NUMBER_CONSTRAINTS:
            if not _is_number(value):
                problems.append(((key,), "must be a finite number"))
            elif kind == "int" and not isinstance(value, int):
                problems.append(((key,), "must be an integer for an int field"))
            elif key == "multiple_of" and value <= 0:
                problems.append(((key,), "must be greater than 0"))
        elif key in _LENGTH_CONSTRAINTS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(((key,), "must be a non-negative integer"))
        else:  # pattern
            try:
                compile_user_regex(value)
            except UserRegexError as exc:
                problems.append(((key,), str(exc)))
    if problems:
        return problems
    for low in _LOWER_BOUNDS:
        for high in _UPPER_BOUNDS:
            if low in constraints and high in constraints:
                lo, hi = constraints[low], constraints[high]
                if lo > hi or (lo == hi and (low, high) != ("ge", "le")):
                    problems.append(((high,), f"{high}={hi} conflicts with {low}={lo}"))
    lengths = constraints.get("min_length"), constraints.get("max_length")
    if None not in lengths and lengths[0] > lengths[1]:
        problems.append((("max_length",), "max_length must not be less than min_length"))
    return problems


def _pattern_check(pattern: str) -> AfterValidator:
    """A ``pattern`` constraint, matched by the user-regex engine (RE2) like every user
    regex; the message is pydantic's own, so errors read the same as other constraints."""
    compiled = compile_user_regex(pattern)

    def check(value: str) -> str:
        if len(value) > MAX_SUBJECT_LENGTH:
            raise PydanticCustomError(
                "string_pattern_mismatch",
                "String is longer than {limit} characters, the limit for matching a pattern",
                {"limit": MAX_SUBJECT_LENGTH},
            )
        if compiled.search(value) is None:
            raise PydanticCustomError(
                "string_pattern_mismatch",
                "String should match pattern '{pattern}'",
                {"pattern": pattern},
            )
        return value

    return AfterValidator(check)


def _format_choices(choices: tuple[LiteralValue, ...]) -> str:
    shown = [repr(c) for c in choices]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _exact_literal(choices: tuple[LiteralValue, ...]) -> BeforeValidator:
    """Reject look-alikes pydantic's lax Literal accepts (``1.0`` for ``True``, ``True`` for 1)."""
    allowed = {(type(c), c) for c in choices}
    expected = _format_choices(choices)

    def check(value: Any) -> Any:
        try:
            if (type(value), value) in allowed:
                return value
        except TypeError:  # unhashable input
            pass
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )

    return BeforeValidator(check)


def _decode_json_object(value: Any) -> Any:
    """``dict`` fields travel as JSON-encoded strings (see ``openai_schema``); decode them."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise PydanticCustomError(
            "json_object", "Input should be a JSON object encoded as a string"
        ) from None


def _annotation(spec: TypeSpec) -> Any:
    """Pydantic annotation for one value of ``spec`` (without the field's constraints)."""
    if spec.kind == "list":
        assert spec.item is not None
        return list[_annotation(spec.item)]  # type: ignore[misc]
    if spec.kind == "literal":
        return Annotated[spec.python_type(), _exact_literal(spec.choices)]
    if spec.kind == "dict":
        return Annotated[spec.python_type(), BeforeValidator(_decode_json_object)]
    if spec.kind == "float":
        return Annotated[float, AllowInfNan(False)]
    return spec.python_type()


def _field_annotation(spec: TypeSpec, constraints: dict[str, Any]) -> Any:
    """A field's value annotation: the type plus its constraints."""
    annotation = _annotation(spec)
    constraints = dict(constraints)
    pattern = constraints.pop("pattern", None)
    if constraints:
        annotation = Annotated[annotation, Field(**constraints)]
    if pattern is not None:
        annotation = Annotated[annotation, _pattern_check(pattern)]
    return annotation


def _format_error(name: str, error: Any) -> str:
    loc = ".".join(str(part) for part in (name, *error["loc"]))
    return f"{loc}: {error['msg']}"


class CompiledSchema:
    """A validated output schema, ready to be sent to the LLM and to check its answers.

    Build it with :func:`compile_schema` (or a :class:`SchemaRegistry`), not directly.
    """

    def __init__(
        self,
        *,
        fields: tuple[FieldSpec, ...],
        types: dict[str, TypeSpec],
        constraints: dict[str, dict[str, Any]],
        defaults: dict[str, Any],
        name: str,
        checksum: str,
        instructions_timing: InstructionsTiming = "this_turn",
        spoken_alias: str | None = None,
    ) -> None:
        self.fields = fields
        self.checksum = checksum
        self.instructions_timing = instructions_timing
        self.spoken_field: str | None = next((f.name for f in fields if f.spoken), None)
        self.tts_instructions_field = next((f.name for f in fields if f.tts_instructions), None)
        self.hidden_fields = frozenset(f.name for f in fields if f.hidden)
        names = {f.name for f in fields}
        alias = spoken_alias if spoken_alias not in names else None
        self.spoken_alias: str | None = alias if self.spoken_field is not None else None
        """The spoken field's key on the wire (what the LLM writes), when it is aliased."""
        self.wire_spoken_key = self.spoken_alias or self.spoken_field
        # Speech-first: the spoken field leads, preceded by the voice instructions only when
        # they shape this turn's audio; everything else streams after the speech is complete.
        pair = (self.tts_instructions_field, self.spoken_field)
        if instructions_timing == "next_turn":
            pair = pair[::-1]
        front = [n for n in pair if n is not None]
        self.property_order = (*front, *(f.name for f in fields if f.name not in front))
        self._defaults = defaults

        annotations: dict[str, Any] = {}
        model_fields: dict[str, Any] = {}
        properties: dict[str, dict[str, Any]] = {}
        for f in fields:
            annotation = _field_annotation(types[f.name], constraints[f.name])
            annotations[f.name] = annotation
            if f.required:
                model_fields[f.name] = (annotation, Field(description=f.description))
            else:
                model_fields[f.name] = (
                    annotation | None,
                    Field(default=defaults[f.name], description=f.description),
                )
        by_name = {f.name: f for f in fields}
        for prop in self.property_order:
            description = by_name[prop].description
            wire = prop
            if prop == self.spoken_field and self.spoken_alias:
                wire = self.spoken_alias
                description = f"{SPOKEN_ALIAS_NOTE.format(name=prop)} {description}".strip()
            properties[wire] = property_schema(
                types[prop],
                description=description,
                constraints=constraints[prop],
                nullable=not by_name[prop].required,
            )
        self.model: type[BaseModel] = create_model(name, **model_fields)
        self._adapters = {n: TypeAdapter(a) for n, a in annotations.items()}
        self.json_schema = object_schema(properties)
        self.response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": self.json_schema},
        }

    def __repr__(self) -> str:
        return f"<CompiledSchema {self.model.__name__} {self.checksum[:12]} {self.property_order}>"

    def to_wire(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` (configured names) as the LLM writes it: the spoken key aliased, order kept."""
        if not self.spoken_alias:
            return dict(data)
        spoken, alias = self.spoken_field, self.spoken_alias
        return {alias if key == spoken else key: value for key, value in data.items()}

    def from_wire(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The LLM's object with configured names: the alias becomes the spoken field's name
        (a model that wrote the configured name itself is understood too)."""
        alias = self.spoken_alias
        if not alias or alias not in document or self.spoken_field in document:
            return dict(document)
        spoken = self.spoken_field
        return {spoken if key == alias else key: value for key, value in document.items()}

    def _fallback(self, name: str) -> Any:
        return copy.deepcopy(self._defaults.get(name))

    def validate_output(self, raw: str | bytes | Mapping[str, Any]) -> ValidationResult:
        """Validate a model answer field by field; never raises (errors are collected)."""
        try:
            return self._validate(raw)
        except Exception as exc:  # the agent loop must keep talking whatever the model sent
            logger.exception("unexpected failure validating model output")
            data = {f.name: self._fallback(f.name) for f in self.fields}
            if self.spoken_field is not None:
                data[self.spoken_field] = ""
            return ValidationResult(data, [f"could not validate model output: {exc}"])

    def _validate(self, raw: str | bytes | Mapping[str, Any]) -> ValidationResult:
        errors: list[str] = []
        if isinstance(raw, bytes | bytearray):
            raw = bytes(raw).decode("utf-8", errors="replace")
        if isinstance(raw, str):
            body = json_body(raw)
            if body is None:
                data = {f.name: self._fallback(f.name) for f in self.fields}
                if self.spoken_field is not None:
                    data[self.spoken_field] = raw.strip()
                return ValidationResult(data, [PLAIN_TEXT_ERROR])
            document = self.from_wire(self._parse_json(body, errors))
        elif isinstance(raw, Mapping):
            document = self.from_wire(raw)
        else:
            document = {}
            errors.append(f"unsupported model output type {type(raw).__name__}")

        data: dict[str, Any] = {}
        for f in self.fields:
            name = f.name
            if name not in document or (document[name] is None and not f.required):
                if f.required:
                    errors.append(f"{name}: Field required")
                data[name] = "" if f.spoken else self._fallback(name)
                continue
            value = document[name]
            try:
                data[name] = self._adapters[name].validate_python(value)
            except ValidationError as exc:
                errors.extend(_format_error(name, e) for e in exc.errors())
                if f.spoken:  # keep whatever speech there is rather than going silent
                    data[name] = value if isinstance(value, str) else ""
                else:
                    data[name] = self._fallback(name)
        errors.extend(f"{key}: unexpected field ignored" for key in document if key not in data)
        return ValidationResult(data, errors)

    @staticmethod
    def _parse_json(body: str, errors: list[str]) -> dict[str, Any]:
        """Parse the JSON object; on failure recover what a partial parse can read."""
        try:
            document, end = json.JSONDecoder(strict=False).raw_decode(body)
        except (ValueError, RecursionError) as exc:
            errors.append(f"invalid JSON: {exc}")
            try:
                partial = pydantic_core.from_json(body, allow_partial="trailing-strings")
            except ValueError:
                return {}
            return partial if isinstance(partial, dict) else {}
        if body[end:].strip():
            errors.append("ignored text after the JSON object")
        return document

    def strip_hidden(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Copy of ``data`` without hidden fields (what the frontend may see)."""
        return {k: v for k, v in data.items() if k not in self.hidden_fields}

    def extractor(
        self, *, on_tts_instructions: Callable[[str], None] | None = None
    ) -> StreamingExtractor:
        """A fresh incremental extractor for one streamed turn."""
        return StreamingExtractor(self, on_tts_instructions=on_tts_instructions)


def _safe_name(name: str) -> str:
    """OpenAI requires ``^[a-zA-Z0-9_-]{1,64}$`` for the response format name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "AgentTurn"


def compile_schema(
    fields: Sequence[FieldSpec],
    *,
    name: str = "AgentTurn",
    instructions_timing: InstructionsTiming = "this_turn",
    speech: bool = True,
    spoken_alias: str | None = None,
) -> CompiledSchema:
    """Check every field definition and build the schema; raise with all issues at once.

    ``spoken_alias``: the spoken field's key in the schema sent to the LLM (fewer tokens
    before the first spoken character); ignored when another field has that name.
    ``speech=False`` compiles a schema nothing is spoken from (e.g. post-session outcome
    fields): no spoken or TTS-instructions field is required or allowed.
    """
    fields = tuple(fields)
    issues: list[SchemaIssue] = []

    def issue(loc: Loc, message: str) -> None:
        issues.append(SchemaIssue(loc, message))

    if len(fields) > MAX_FIELDS:
        issue((), f"at most {MAX_FIELDS} fields are allowed")
    types: dict[str, TypeSpec] = {}
    constraints: dict[str, dict[str, Any]] = {}
    defaults: dict[str, Any] = {}
    seen: set[str] = set()
    for i, f in enumerate(fields):
        try:
            check_field_name(f.name)
        except ValueError as exc:
            issue((i, "field_name"), str(exc))
        if f.name in seen:
            issue((i, "field_name"), f"duplicate field name '{f.name}'")
        seen.add(f.name)
        if not isinstance(f.description, str):
            issue((i, "description"), "description must be text")
        try:
            spec: TypeSpec | None = parse_field_type(f.type)
        except FieldTypeError as exc:
            issue((i, "field_type"), str(exc))
            spec = None
        problems = _check_constraints(spec.kind, f.constraints) if spec else []
        for loc, message in problems:
            issue((i, "constraints", *loc), message)
        if f.spoken and f.hidden:
            issue((i, "metadata"), "the spoken field cannot be hidden")
        if f.spoken and f.tts_instructions:
            issue((i, "metadata"), "the spoken field cannot also hold TTS instructions")
        if (f.spoken or f.tts_instructions) and spec is not None and spec.kind != "str":
            role = "spoken" if f.spoken else "tts_instructions"
            issue((i, "metadata"), f"the {role} field must have type str")
        if f.spoken and not f.required:
            issue((i, "required"), "the spoken field must be required")
        if f.default is not None and f.required:
            issue((i, "default"), "only optional fields can have a default")
        if spec is None or problems or not isinstance(f.name, str):
            continue
        types[f.name] = spec
        constraints[f.name] = dict(f.constraints)
        defaults[f.name] = None
        if f.default is not None and not f.required:
            try:
                defaults[f.name] = _validated_default(spec, constraints[f.name], f.default)
            except ValueError as exc:
                issue((i, "default"), str(exc))
    spoken = [f.name for f in fields if f.spoken]
    if not speech:
        for i, f in enumerate(fields):
            if f.spoken or f.tts_instructions:
                issue((i, "metadata"), "these fields are not spoken: no spoken/tts_instructions")
    elif len(spoken) != 1:
        found = f", found {len(spoken)} ({', '.join(spoken)})" if spoken else ""
        issue((), f"exactly one spoken field is required{found}")
    tts = [f.name for f in fields if f.tts_instructions]
    if len(tts) > 1:
        issue(
            (),
            f"at most one tts_instructions field is allowed, found {len(tts)} ({', '.join(tts)})",
        )
    if issues:
        raise SchemaDefinitionError(issues)
    try:
        return CompiledSchema(
            fields=fields,
            types=types,
            constraints=constraints,
            defaults=defaults,
            name=_safe_name(name),
            checksum=fields_checksum(fields),
            instructions_timing=instructions_timing,
            spoken_alias=spoken_alias,
        )
    except Exception as exc:  # pydantic refusing something the checks above let through
        issue((), f"could not build the schema: {exc}")
        raise SchemaDefinitionError(issues) from exc


def _validated_default(spec: TypeSpec, constraints: dict[str, Any], default: Any) -> Any:
    """The default as the field's validator returns it; ``ValueError`` if it does not fit."""
    try:
        value = TypeAdapter(_field_annotation(spec, constraints)).validate_python(default)
    except ValidationError as exc:
        raise ValueError("; ".join(_format_error("default", e) for e in exc.errors())) from None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ValueError("default must be JSON-serializable") from None
    return value
