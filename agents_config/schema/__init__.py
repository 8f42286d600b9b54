"""Dynamic output-schema engine: field-type grammar, schema compilation, validation, streaming.

Pure Python (pydantic only) so the LiveKit worker and the Django side can share it.
"""

from .demo_fields import DEMO_FIELDS
from .extraction import StreamingExtractor, TurnResult
from .grammar import FieldTypeError, TypeSpec, parse_field_type
from .registry import RegistryStats, SchemaRegistry, default_registry
from .spec import (
    CompiledSchema,
    FieldSpec,
    InstructionsTiming,
    SchemaDefinitionError,
    SchemaIssue,
    ValidationResult,
    check_field_name,
    compile_schema,
    fields_checksum,
)

__all__ = [
    "DEMO_FIELDS",
    "CompiledSchema",
    "FieldSpec",
    "FieldTypeError",
    "InstructionsTiming",
    "RegistryStats",
    "SchemaDefinitionError",
    "SchemaIssue",
    "SchemaRegistry",
    "StreamingExtractor",
    "TurnResult",
    "TypeSpec",
    "ValidationResult",
    "check_field_name",
    "compile_schema",
    "default_registry",
    "fields_checksum",
    "parse_field_type",
]
