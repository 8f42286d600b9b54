"""The configuration contracts: one pydantic model per config section and one for the document.

Admin forms, API serializers, import/export and the worker all validate through these models,
so every rule about a configuration lives here (the schema engine owns the field-type grammar
and is called from ``SchemaConfig``). ``parse_document`` / ``parse_section`` return validated
models or raise ``ContractError`` whose ``errors`` map a field path such as
``schema_config.fields[2].field_type`` to readable messages.

Seed-shaped documents leave some settings implicit: each contract's ``inferred()`` fills them in
before the cross-field rules run (the spoken field of an unmarked schema), and
``AgentDocument.warnings()`` reports what was inferred plus settings accepted without effect
(voice instructions for a TTS that cannot take them). The providers' facts (wire format, key
name, preset endpoint, defaults, options) live in ``LLM_PROVIDERS`` / ``TTS_PROVIDERS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from agents_config.nodes import NODE_REGISTRY
from agents_config.schema import (
    CompiledSchema,
    FieldSpec,
    InstructionsTiming,
    SchemaDefinitionError,
    check_field_name,
    default_registry,
)
from agents_config.templating import IDENTIFIER_PATTERN, TemplateError, template_variables
from agents_config.validators import OUTPUT_VALIDATORS
from agents_config.versioning import SEMVER_PATTERN
from tenants.outbound import OutboundURLRefused, split_url
from tenants.platform import json_input

Loc = tuple[str | int, ...]

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"
IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
TOOL_KINDS = ("http", "end_call", "transfer_to_agent", "transfer_call", "send_dtmf")
"""The ``kind`` of a ``tools_config.tools`` entry."""

OPENAI_TTS_VOICES = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    }
)


CARTESIA_VOICE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DEEPGRAM_TTS_MODEL = re.compile(r"^aura(-2)?-[a-z]+-[a-z]{2}$")


@dataclass(frozen=True)
class LLMProvider:
    """How the worker reaches an LLM provider: its wire format, key and (preset) endpoint."""

    wire: Literal["openai", "anthropic"]
    credential: str
    """Tenant credential / environment key name (``tenants.secrets.ENVIRONMENT_KEYS``)."""
    default_model: str
    base_url: str = ""
    """A preset's fixed OpenAI-compatible endpoint ("" for the provider's own client)."""
    json_schema_output: bool = True
    """Whether the API takes a JSON-schema ``response_format`` (else the prompt fallback)."""


LLM_PROVIDERS: dict[str, LLMProvider] = {
    "openai": LLMProvider(wire="openai", credential="openai", default_model="gpt-4o-mini"),
    "anthropic": LLMProvider(
        wire="anthropic",
        credential="anthropic",
        default_model="claude-haiku-4-5",
        json_schema_output=False,
    ),
    # OpenAI-compatible presets: only the endpoint and the key's name differ.
    "together": LLMProvider(
        wire="openai",
        credential="together",
        default_model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
        base_url="https://api.together.xyz/v1",
    ),
    "groq": LLMProvider(
        wire="openai",
        credential="groq",
        default_model="llama-3.3-70b-versatile",
        base_url="https://api.groq.com/openai/v1",
    ),
    "openrouter": LLMProvider(
        wire="openai",
        credential="openrouter",
        default_model="openai/gpt-4o-mini",
        base_url="https://openrouter.ai/api/v1",
    ),
}


@dataclass(frozen=True)
class TTSProvider:
    credential: str
    default_model: str
    default_voice: str
    takes_instructions: bool
    """Whether per-turn voice instructions reach the synthesizer."""


TTS_PROVIDERS: dict[str, TTSProvider] = {
    "openai": TTSProvider("openai", "gpt-4o-mini-tts", "ash", takes_instructions=True),
    "deepgram": TTSProvider(
        "deepgram", "aura-2-andromeda-en", "andromeda", takes_instructions=False
    ),
    "cartesia": TTSProvider(
        "cartesia",
        "sonic-3",
        "f786b574-daa5-4673-aa0c-cbe3e8534c02",  # the plugin's default voice
        takes_instructions=False,
    ),
}


@dataclass(frozen=True)
class ContractWarning:
    """Something accepted but worth telling: an inferred setting or an option with no effect."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field or 'document'}: {self.message}"


def format_loc(loc: Iterable[str | int]) -> str:
    """Turn a location tuple into a path such as ``schema_config.fields[2].field_type``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


class ContractError(ValueError):
    """Validation failed; ``errors`` maps field paths to messages ("" is the whole document)."""

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors: dict[str, list[str]] = {path: list(msgs) for path, msgs in errors.items()}
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "; ".join(
            f"{path or 'document'}: {' '.join(msgs)}" for path, msgs in self.errors.items()
        )

    @classmethod
    def from_issues(cls, issues: Iterable[tuple[Loc, str]], prefix: Loc = ()) -> ContractError:
        errors: dict[str, list[str]] = {}
        for loc, message in issues:
            errors.setdefault(format_loc((*prefix, *loc)), []).append(message)
        return cls(errors)

    @classmethod
    def from_pydantic(cls, error: ValidationError, prefix: Loc = ()) -> ContractError:
        issues = []
        for item in error.errors(include_url=False):
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                message = "Unknown key."
            issues.append((_without_union_tags(tuple(item["loc"])), message))
        return cls.from_issues(issues, prefix)


def _without_union_tags(loc: Loc) -> Loc:
    """Drop the tag pydantic puts after a tagged-union item (``tools[3].http.url`` is
    reported as ``tools[3].url``)."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (
            part in TOOL_KINDS
            and index >= 2
            and isinstance(loc[index - 1], int)
            and loc[index - 2] == "tools"
        )
    )


def normalize_newlines(value: Any) -> Any:
    """Every text in a configuration uses LF line endings: browsers submit textareas with CRLF,
    and a document differing only in line endings must not become a new version."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value
    if isinstance(value, Mapping):
        return {key: normalize_newlines(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normalize_newlines(item) for item in value]
    return value


class Contract(BaseModel):
    """Base for every section: unknown keys are errors, so typos never pass silently, and
    every text is stored with LF line endings (whichever entry point it came through)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _lf_line_endings(cls, value: Any) -> Any:
        return normalize_newlines(value)

    def cross_check(self) -> list[tuple[Loc, str]]:
        """Rules spanning several fields of the section; empty when valid."""
        return []

    def inferred(self) -> tuple[Contract, list[tuple[Loc, str]]]:
        """The section with settings a seed document leaves implicit filled in, and what was
        inferred (as warnings). Runs before ``cross_check``."""
        return self, []


def _check_http_url(value: str | None) -> str | None:
    """The form rules of the outbound-URL policy (no DNS here; services check addresses)."""
    if value is None or value == "":
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    try:
        split_url(value)
    except OutboundURLRefused as exc:
        raise ValueError(str(exc)) from None
    return value


JSONScalar = str | int | float | bool | None


class FewShotExample(Contract):
    user: str = Field(min_length=1, max_length=4000, description="What the user says.")
    assistant: dict[str, Any] | str = Field(
        description="The agent's reply: a structured turn matching the schema, or spoken text."
    )


class GeneratedFirstMessage(Contract):
    """The greeting is generated by the LLM from the instructions (a normal structured turn)."""

    mode: Literal["generate"]


class PromptConfig(Contract):
    template_id: str = Field(default="", max_length=100)
    first_message: str | GeneratedFirstMessage | None = Field(
        default=None,
        description="Spoken when the session starts and recorded as turn 0: a fixed text, "
        '{"mode": "generate"} to have the LLM write it, or null for none.',
    )
    instructions: str = Field(min_length=1, max_length=50_000)
    dynamic_vars: dict[str, JSONScalar] = Field(
        default_factory=dict, description="Template variables with their default values."
    )
    examples: list[FewShotExample] = Field(default_factory=list, max_length=50)

    @field_validator("dynamic_vars")
    @classmethod
    def _variable_names(cls, value: dict[str, JSONScalar]) -> dict[str, JSONScalar]:
        for name in value:
            if not IDENTIFIER.match(name):
                raise ValueError(f"{name!r} is not a valid variable name")
        return value

    def variables(self) -> list[str]:
        return template_variables(self.instructions)

    def cross_check(self) -> list[tuple[Loc, str]]:
        try:
            used = self.variables()
        except TemplateError as exc:
            return [(("instructions",), str(exc))]
        undeclared = [name for name in used if name not in self.dynamic_vars]
        if undeclared:
            return [
                (
                    ("instructions",),
                    f"template variables used but not declared in dynamic_vars: "
                    f"{', '.join(undeclared)}",
                )
            ]
        return []


class FieldMetadata(Contract):
    spoken: bool = Field(default=False, description="This field is the text spoken by TTS.")
    tts_instructions: bool = Field(
        default=False,
        validation_alias=AliasChoices("tts_instructions", "use_in_tts"),
        description="This field carries the TTS voice instructions for the turn.",
    )
    hidden: bool = Field(default=False, description="Never sent to the frontend.")


class SchemaFieldConfig(Contract):
    field_name: str = Field(max_length=64)
    field_type: str = Field(max_length=2000)
    description: str = Field(default="", max_length=2000)
    required: bool = True
    default: Any = None
    constraints: dict[str, Any] = Field(default_factory=dict)
    metadata: FieldMetadata = Field(default_factory=FieldMetadata)

    def to_spec(self) -> FieldSpec:
        return FieldSpec(
            name=self.field_name,
            type=self.field_type,
            description=self.description,
            required=self.required,
            default=self.default,
            constraints=dict(self.constraints),
            spoken=self.metadata.spoken,
            tts_instructions=self.metadata.tts_instructions,
            hidden=self.metadata.hidden,
        )


INFERRED_SPOKEN_NAME = "system_response"
"""The seed's spoken field: chosen by name when several fields could be the spoken one."""

SPOKEN_KEY_ALIAS = "say"
"""Default key of the spoken field in the JSON the LLM writes: ``{"say": "`` is 2-3 tokens
before the first spoken character where ``{"system_response": "`` is 4-5."""


class SchemaConfig(Contract):
    schema_id: str = Field(default="", max_length=100)
    schema_version: str = Field(default="1.0.0", max_length=20)
    fields: list[SchemaFieldConfig] = Field(min_length=1, max_length=100)
    custom_validators: list[str] = Field(default_factory=list)
    spoken_key_alias: str | None = Field(
        default=SPOKEN_KEY_ALIAS,
        max_length=64,
        description=(
            "The spoken field's key in the JSON the LLM writes (its meaning goes in the "
            "property's description): fewer tokens before the first spoken word. null sends "
            "the configured name. Stored and published turns always use the configured name."
        ),
    )

    def field_specs(self) -> tuple[FieldSpec, ...]:
        return tuple(f.to_spec() for f in self.fields)

    def compile(self, instructions_timing: InstructionsTiming = "this_turn") -> CompiledSchema:
        """The compiled schema, built once per process per content (registry cache)."""
        return default_registry.get_or_compile(
            self.schema_id or "schema",
            self.field_specs(),
            instructions_timing,
            spoken_alias=self.spoken_key_alias,
        )

    def spoken_candidates(self, instruction_field: str | None = None) -> list[int]:
        """Indexes of the fields that could be the spoken one: required, plain ``str``, not
        hidden and not the TTS-instructions field."""
        return [
            index
            for index, f in enumerate(self.fields)
            if f.required
            and f.field_type.strip() == "str"
            and not f.metadata.hidden
            and not f.metadata.tts_instructions
            and f.field_name != instruction_field
        ]

    def with_inferred_spoken(
        self, instruction_field: str | None = None
    ) -> tuple[SchemaConfig, list[tuple[Loc, str]]]:
        """Seed documents mark no spoken field: pick the single candidate (``system_response``
        by name when several qualify). Unchanged when a field is marked or none qualifies."""
        if any(f.metadata.spoken for f in self.fields):
            return self, []
        candidates = self.spoken_candidates(instruction_field)
        if len(candidates) > 1:
            candidates = [
                i for i in candidates if self.fields[i].field_name == INFERRED_SPOKEN_NAME
            ]
        if len(candidates) != 1:
            return self, []
        index = candidates[0]
        chosen = self.fields[index]
        fields = list(self.fields)
        fields[index] = chosen.model_copy(
            update={"metadata": chosen.metadata.model_copy(update={"spoken": True})}
        )
        message = (
            f"no field was marked spoken; {chosen.field_name!r} (the required str field) is "
            "spoken and will be exported with metadata.spoken=true"
        )
        return self.model_copy(update={"fields": fields}), [
            (("fields", index, "metadata", "spoken"), message)
        ]

    def inferred(self) -> tuple[Contract, list[tuple[Loc, str]]]:
        return self.with_inferred_spoken()

    def cross_check(self) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = [
            (
                ("custom_validators", index),
                f"unknown validator {name!r}; known: "
                f"{', '.join(sorted(OUTPUT_VALIDATORS)) or 'none'}",
            )
            for index, name in enumerate(self.custom_validators)
            if name not in OUTPUT_VALIDATORS
        ]
        alias = self.spoken_key_alias
        if alias is not None:
            try:
                check_field_name(alias)
            except ValueError as exc:
                issues.append((("spoken_key_alias",), str(exc)))
            spoken = {f.field_name for f in self.fields if f.metadata.spoken}
            taken = {f.field_name for f in self.fields} - spoken
            # The default steps aside for a field of that name; a chosen alias must not clash.
            if alias in taken and "spoken_key_alias" in self.model_fields_set:
                issues.append((("spoken_key_alias",), f"{alias!r} is the name of another field"))
        try:
            self.compile()
        except SchemaDefinitionError as exc:
            issues += [(("fields", *issue.loc), issue.message) for issue in exc.issues]
        return issues


class OpenAIOptions(Contract):
    """Options of OpenAI and the OpenAI-compatible presets (livekit-plugins-openai)."""

    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    parallel_tool_calls: bool | None = None


class AnthropicOptions(Contract):
    """Options of the Anthropic Messages API (livekit-plugins-anthropic)."""

    top_k: int | None = Field(default=None, ge=1, le=500)
    caching: Literal["ephemeral"] | None = Field(
        default=None, description="Prompt caching of the system prompt, tools and history."
    )
    parallel_tool_calls: bool | None = None


LLM_OPTIONS: dict[str, type[Contract]] = {"openai": OpenAIOptions, "anthropic": AnthropicOptions}
"""Option contracts by wire format (``LLMProvider.wire``)."""


def _option_issues(model: type[BaseModel], options: dict[str, Any]) -> list[tuple[Loc, str]]:
    """A provider's ``options`` checked by its options model, located under ``options``."""
    try:
        model.model_validate(options)
    except ValidationError as exc:
        return [
            (("options", *loc), message)
            for loc, message in _issues(ContractError.from_pydantic(exc))
        ]
    return []


class LLMConfig(Contract):
    provider: Literal["openai", "anthropic", "together", "groq", "openrouter"] = "openai"
    model: str = Field(default="gpt-4o-mini", min_length=1, max_length=100)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=128_000)
    first_token_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=120,
        description="No first token within this time: the turn speaks the fallback line. "
        "null: wait.",
    )
    max_history_turns: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Conversation turns the LLM sees; older ones are dropped (the system "
        "prompt, few-shot examples and the latest structured reply always stay).",
    )
    tool_choice: Literal["auto", "none", "required"] = "auto"
    supports_structured_output: bool = True
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; empty for the provider's own."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific options (see README Providers)."
    )
    fallbacks: list[LLMConfig] = Field(
        default_factory=list,
        max_length=3,
        description="LLMs tried in order when this one fails (livekit's llm.FallbackAdapter).",
    )

    _url = field_validator("base_url")(_check_http_url)

    @field_validator("fallbacks")
    @classmethod
    def _flat_fallbacks(cls, value: list[LLMConfig]) -> list[LLMConfig]:
        if any(entry.fallbacks for entry in value):
            raise ValueError("a fallback has no fallbacks of its own")
        return value

    @model_validator(mode="before")
    @classmethod
    def _provider_defaults(cls, data: Any) -> Any:
        """A provider chosen without a model (or structured-output flag) gets its own."""
        if isinstance(data, Mapping) and data.get("provider") in LLM_PROVIDERS:
            spec = LLM_PROVIDERS[data["provider"]]
            data = dict(data)
            data.setdefault("model", spec.default_model)
            if not spec.json_schema_output:
                data.setdefault("supports_structured_output", False)
        return data

    @property
    def spec(self) -> LLMProvider:
        return LLM_PROVIDERS[self.provider]

    def cross_check(self) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        spec = self.spec
        if self.supports_structured_output and not spec.json_schema_output:
            issues.append(
                (
                    ("supports_structured_output",),
                    f"{self.provider} has no JSON-schema response format; set it to false "
                    "(the schema is then asked for in the prompt)",
                )
            )
        if spec.wire != "openai" and self.base_url:
            issues.append(
                (
                    ("base_url",),
                    f"base_url is for OpenAI-compatible endpoints; {self.provider} uses its own "
                    f"API (a deployment may point it elsewhere with "
                    f"{spec.credential.upper()}_BASE_URL)",
                )
            )
        if spec.base_url and self.base_url and self.base_url.rstrip("/") != spec.base_url:
            issues.append(
                (
                    ("base_url",),
                    f"the {self.provider} preset uses {spec.base_url}; leave base_url empty "
                    "(or use provider openai with a base_url)",
                )
            )
        return issues + _option_issues(LLM_OPTIONS[spec.wire], self.options)

    def provider_options(self) -> dict[str, Any]:
        """The validated provider options that are set (for the plugin's constructor)."""
        options = LLM_OPTIONS[self.spec.wire].model_validate(self.options)
        return options.model_dump(exclude_none=True)


class STTConfig(Contract):
    provider: Literal["deepgram", "openai"] = "deepgram"
    model: str = Field(default="nova-3", min_length=1, max_length=100)
    language: str = Field(default="en", min_length=2, max_length=16)
    fallbacks: list[STTConfig] = Field(
        default_factory=list,
        max_length=3,
        description="STT engines tried in order when this one fails (livekit's "
        "stt.FallbackAdapter).",
    )

    @field_validator("fallbacks")
    @classmethod
    def _flat_fallbacks(cls, value: list[STTConfig]) -> list[STTConfig]:
        if any(entry.fallbacks for entry in value):
            raise ValueError("a fallback has no fallbacks of its own")
        return value


class CartesiaOptions(Contract):
    """Generation controls of Cartesia's sonic models (livekit-plugins-cartesia)."""

    speed: float | None = Field(default=None, ge=0.6, le=2.0)
    emotion: str | None = Field(default=None, min_length=1, max_length=50)
    volume: float | None = Field(default=None, ge=0.5, le=2.0)
    language: str | None = Field(default=None, min_length=2, max_length=16)


class OpenAITTSOptions(Contract):
    speed: float | None = Field(default=None, ge=0.25, le=4.0)


class NoOptions(Contract):
    pass


TTS_OPTIONS: dict[str, type[Contract]] = {
    "openai": OpenAITTSOptions,
    "deepgram": NoOptions,
    "cartesia": CartesiaOptions,
}


class TTSConfig(Contract):
    provider: Literal["openai", "deepgram", "cartesia"] = "openai"
    model: str = Field(default="gpt-4o-mini-tts", min_length=1, max_length=100)
    voice: str = Field(default="ash", min_length=1, max_length=100)
    default_instructions: str = Field(default="", max_length=4000)
    instruction_field: str | None = Field(
        default=None, description="Schema field holding per-turn voice instructions."
    )
    streaming: bool = True
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific options (see README Providers)."
    )
    fallbacks: list[TTSConfig] = Field(
        default_factory=list,
        max_length=3,
        description="TTS engines tried in order when this one fails (livekit's "
        "tts.FallbackAdapter).",
    )

    @field_validator("fallbacks")
    @classmethod
    def _flat_fallbacks(cls, value: list[TTSConfig]) -> list[TTSConfig]:
        if any(entry.fallbacks for entry in value):
            raise ValueError("a fallback has no fallbacks of its own")
        return value

    @model_validator(mode="before")
    @classmethod
    def _provider_defaults(cls, data: Any) -> Any:
        """A provider chosen without model or voice (as in the seed) gets its own defaults."""
        if isinstance(data, Mapping) and data.get("provider") in TTS_PROVIDERS:
            spec = TTS_PROVIDERS[data["provider"]]
            data = dict(data)
            data.setdefault("model", spec.default_model)
            data.setdefault("voice", spec.default_voice)
        return data

    @property
    def spec(self) -> TTSProvider:
        return TTS_PROVIDERS[self.provider]

    instructions_timing: InstructionsTiming = Field(
        default="this_turn",
        description=(
            "this_turn: the instructions field is generated before the spoken one and shapes "
            "this turn's audio (first audio waits for it); next_turn: it is generated after "
            "the spoken one and applies from the next turn (lowest latency)."
        ),
    )

    def cross_check(self) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        if self.provider == "openai" and self.voice not in OPENAI_TTS_VOICES:
            issues.append(
                (
                    ("voice",),
                    f"unknown OpenAI voice {self.voice!r}; expected one of "
                    f"{', '.join(sorted(OPENAI_TTS_VOICES))}",
                )
            )
        if self.provider == "cartesia":
            if not CARTESIA_VOICE_ID.match(self.voice):
                issues.append((("voice",), "a Cartesia voice is a voice id (a UUID)"))
            if not self.model.startswith("sonic"):
                issues.append((("model",), f"unknown Cartesia model {self.model!r} (sonic-*)"))
        if self.provider == "deepgram" and not DEEPGRAM_TTS_MODEL.match(self.model):
            issues.append(
                (
                    ("model",),
                    f"unknown Deepgram voice model {self.model!r}; expected "
                    "aura-2-<voice>-<language> (the voice is part of the model)",
                )
            )
        return issues + _option_issues(TTS_OPTIONS[self.provider], self.options)

    def provider_options(self) -> dict[str, Any]:
        options = TTS_OPTIONS[self.provider].model_validate(self.options)
        return options.model_dump(exclude_none=True)

    def advisories(self) -> list[tuple[Loc, str]]:
        """Accepted settings that have no effect with this provider."""
        if self.spec.takes_instructions:
            return []
        unused = [
            name for name in ("instruction_field", "default_instructions") if getattr(self, name)
        ]
        return [
            (
                (name,),
                f"{self.provider} TTS cannot take voice instructions: they are produced and "
                "stored with each turn but do not change the voice",
            )
            for name in unused
        ]


class TracingConfig(Contract):
    enabled: bool = False
    provider: Literal["langfuse", "otlp"] = "langfuse"
    endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint; empty: Langfuse host from the environment."
    )
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    metadata_fields: list[str] = Field(default_factory=list)

    _url = field_validator("endpoint")(_check_http_url)

    def cross_check(self) -> list[tuple[Loc, str]]:
        if self.provider == "otlp" and not self.endpoint:
            return [(("endpoint",), "an endpoint is required for the otlp provider")]
        return []


# Settings a session may override, when the agent lists them in
# ``pipeline_config.session_overrides``. Credentials and tenant settings are never overridable.
OVERRIDABLE_SETTINGS = frozenset(
    {
        "prompt_config.dynamic_vars",
        "llm_config.temperature",
        "llm_config.max_tokens",
        "stt_config.language",
        "tts_config.voice",
        "tts_config.default_instructions",
        "tracing_config.enabled",
        "tracing_config.sample_rate",
    }
)


class AnalysisConfig(Contract):
    """Post-session analysis: an LLM reads the transcript and the final structured state and
    answers the outcome fields (same field grammar and schema engine as the turn schema, in
    the no-speech mode). See ``sessions_app.analysis``."""

    enabled: bool = False
    summary_prompt: str = Field(
        default="Summarise the conversation in two or three sentences.", max_length=4000
    )
    outcome_fields: list[SchemaFieldConfig] = Field(default_factory=list, max_length=50)
    success_criteria: str = Field(
        default="", max_length=4000, description="What counts as a successful session."
    )
    sample_rate: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Share of ended sessions analysed (0-1)."
    )
    model: str = Field(default="", max_length=100, description="Empty: llm_config.model.")

    def compile(self) -> CompiledSchema:
        """The outcome fields plus ``summary``/``success`` as one schema (nothing spoken)."""
        specs = [
            FieldSpec(name="summary", type="str", description=self.summary_prompt),
            FieldSpec(
                name="success",
                type="bool",
                description=self.success_criteria or "Did the session reach its goal?",
            ),
            *(f.to_spec() for f in self.outcome_fields),
        ]
        # Cached like the turn schema: every parse of a document cross-checks it.
        return default_registry.get_or_compile(
            "session-analysis", specs, name="SessionAnalysis", speech=False
        )

    def cross_check(self) -> list[tuple[Loc, str]]:
        reserved = [
            (("outcome_fields", i, "field_name"), f"{f.field_name!r} is reserved")
            for i, f in enumerate(self.outcome_fields)
            if f.field_name in ("summary", "success")
        ]
        if reserved:
            return reserved
        try:
            self.compile()
        except SchemaDefinitionError as exc:
            # issue locs count the two built-in fields first
            return [
                (("outcome_fields", issue.loc[0] - 2, *issue.loc[1:]), issue.message)
                if issue.loc and isinstance(issue.loc[0], int)
                else (("outcome_fields",), issue.message)
                for issue in exc.issues
            ]
        return []


class PipelineConfig(Contract):
    vad_enabled: bool = True
    turn_detection: bool = True
    noise_cancellation: bool = False
    transcription_enabled: bool = True
    custom_nodes: list[str] = Field(default_factory=list)
    fallback_line: str = Field(
        default="Sorry, I didn't catch that. Could you say it again?", max_length=500
    )
    max_session_minutes: int = Field(default=30, ge=1, le=1440)
    preemptive_generation: bool = Field(
        default=True,
        description="Start the reply on the user's interim transcript; a discarded "
        "speculative reply is never recorded.",
    )
    closing_line: str = Field(
        default="We have reached the time limit for this session. Goodbye.",
        max_length=500,
        description="Spoken before the worker ends a session at max_session_minutes.",
    )
    silence_timeout_seconds: float | None = Field(
        default=None,
        ge=1,
        le=3600,
        description="After this much silence the agent asks silence_prompt once; after as "
        "much again the session ends. null: never.",
    )
    silence_prompt: str = Field(default="Are you still there?", max_length=500)
    room_empty_timeout_seconds: int = Field(default=300, ge=10, le=86_400)
    max_participants: int = Field(default=2, ge=2, le=100)
    session_overrides: list[str] = Field(
        default_factory=lambda: [
            "prompt_config.dynamic_vars",
            "tts_config.voice",
            "llm_config.temperature",
        ],
        description="Settings each session may override (section.key).",
    )

    def cross_check(self) -> list[tuple[Loc, str]]:
        return [
            (
                ("session_overrides", index),
                f"{name!r} cannot be overridden; allowed: "
                f"{', '.join(sorted(OVERRIDABLE_SETTINGS))}",
            )
            for index, name in enumerate(self.session_overrides)
            if name not in OVERRIDABLE_SETTINGS
        ] + [
            (
                ("custom_nodes", index),
                f"unknown custom node {name!r}; known: {', '.join(sorted(NODE_REGISTRY))}",
            )
            for index, name in enumerate(self.custom_nodes)
            if name not in NODE_REGISTRY
        ]


# --- Tools: what an agent can do during a turn (runtime: ``worker.tools``) -----------------

TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
"""A tool's name: an identifier (OpenAI function names allow ``^[a-zA-Z0-9_-]{1,64}$``)."""
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
SECRET_REFERENCE = re.compile(r"\{\{\s*secret\.([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
"""How a header value names a tenant secret: ``{{ secret.crm_token }}``."""
URL_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
"""A URL template's placeholder: ``{customer_id}`` is replaced by the URL-encoded argument."""
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
E164_PATTERN = r"^\+[1-9]\d{6,14}$"
HTTP_TOOL_DEFAULT_TIMEOUT = 5.0
HTTP_TOOL_MAX_TIMEOUT = 30.0
TOOL_RESULT_MAX_CHARS = 16_000
MAX_TOOLS = 32
# Headers the platform sets itself on every HTTP tool request.
RESERVED_TOOL_HEADERS = frozenset({"host", "content-length", "idempotency-key", "content-type"})


class ToolParameterConfig(Contract):
    """One argument of a tool, in the output schema's field grammar (``str``, ``int``,
    ``Literal['a', 'b']``, ``list[str]`` ... with the same constraints)."""

    field_name: str = Field(max_length=64)
    field_type: str = Field(max_length=2000)
    description: str = Field(default="", max_length=2000)
    required: bool = True
    default: Any = None
    constraints: dict[str, Any] = Field(default_factory=dict)

    def to_spec(self) -> FieldSpec:
        return FieldSpec(
            name=self.field_name,
            type=self.field_type,
            description=self.description,
            required=self.required,
            default=self.default,
            constraints=dict(self.constraints),
        )


class ToolBase(Contract):
    name: str = Field(max_length=64, description="Identifier the model calls the tool by.")
    description: str = Field(
        min_length=1, max_length=2000, description="Tells the model when to call it."
    )
    parameters: list[ToolParameterConfig] = Field(default_factory=list, max_length=50)

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not TOOL_NAME.match(value):
            raise ValueError(
                "must be an identifier (letters, digits and _; not starting with a digit)"
            )
        return value

    def compile_parameters(self) -> CompiledSchema:
        """The arguments' schema (strict JSON Schema + validation), cached per content."""
        return default_registry.get_or_compile(
            f"tool_{self.name}", tuple(p.to_spec() for p in self.parameters), speech=False
        )

    def parameter_names(self) -> list[str]:
        return [p.field_name for p in self.parameters]

    def secret_references(self) -> list[tuple[Loc, str]]:
        """``(location, secret name)`` of every tenant secret the tool uses."""
        return []

    def cross_check(self) -> list[tuple[Loc, str]]:
        try:
            self.compile_parameters()
        except SchemaDefinitionError as exc:
            return [(("parameters", *issue.loc), issue.message) for issue in exc.issues]
        return []


class ToolResponseMapping(Contract):
    """Which parts of the JSON reply the model sees (dotted paths such as ``customer.name``
    or ``items.0.id``; empty: the whole reply), capped at ``max_chars``."""

    fields: list[str] = Field(default_factory=list, max_length=50)
    max_chars: int = Field(default=2000, ge=100, le=TOOL_RESULT_MAX_CHARS)

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,9}", path):
                raise ValueError(f"{path!r} is not a dotted path such as customer.name")
        return value


class HTTPTool(ToolBase):
    """Calls a tenant's HTTP API (through the outbound-URL policy)."""

    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(
        max_length=2000,
        description="URL template; {param} in the path or query is replaced by the "
        "URL-encoded argument. Other arguments are the JSON body (query string for GET and "
        "DELETE).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Header values may name tenant secrets: {{ secret.crm_token }}.",
    )
    timeout_seconds: float = Field(
        default=HTTP_TOOL_DEFAULT_TIMEOUT, gt=0, le=HTTP_TOOL_MAX_TIMEOUT
    )
    response: ToolResponseMapping = Field(default_factory=ToolResponseMapping)
    effect: Literal["read", "write"] = Field(
        default="read",
        description="read: cancelled when the user interrupts; write: never cancelled "
        "half-way, never run twice for one call (Idempotency-Key header).",
    )

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20:
            raise ValueError("at most 20 headers")
        for name, header_value in value.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in RESERVED_TOOL_HEADERS:
                raise ValueError(f"{name!r} is set by the platform")
            if len(header_value) > 2000 or any(c in header_value for c in "\r\n\0"):
                raise ValueError(f"the value of {name!r} is too long or has line breaks")
        return value

    def url_parameters(self) -> list[str]:
        """The names the URL template's placeholders use, in order."""
        return URL_PLACEHOLDER.findall(self.url)

    def sample_url(self) -> str:
        """The template with every placeholder filled (the policy checks its host)."""
        return URL_PLACEHOLDER.sub("x", self.url)

    def secret_references(self) -> list[tuple[Loc, str]]:
        return [
            (("headers", header), name)
            for header, value in self.headers.items()
            for name in SECRET_REFERENCE.findall(value)
        ]

    def cross_check(self) -> list[tuple[Loc, str]]:
        issues = super().cross_check()
        declared = set(self.parameter_names())
        parsed = urlparse(self.url)
        if "{" in parsed.netloc or "}" in parsed.netloc or "{" in parsed.scheme:
            issues.append((("url",), "placeholders may only be used in the path and query"))
        else:
            try:
                _check_http_url(self.sample_url())
            except ValueError as exc:
                issues.append((("url",), str(exc)))
        if self.url.count("{") != self.url.count("}"):
            issues.append((("url",), "unbalanced { } in the URL template"))
        for name in self.url_parameters():
            if name not in declared:
                issues.append((("url",), f"placeholder {{{name}}} is not a declared parameter"))
        for header, value in self.headers.items():
            leftover = SECRET_REFERENCE.sub("", value)
            if "{{" in leftover or "}}" in leftover:
                issues.append(
                    (
                        ("headers", header),
                        "only {{ secret.NAME }} may appear between {{ }} in a header value",
                    )
                )
        return issues


class EndCallTool(ToolBase):
    """Ends the conversation (session end reason ``agent_ended``)."""

    kind: Literal["end_call"]
    goodbye: str = Field(default="", max_length=500, description="Spoken before hanging up.")


class TransferToAgentTool(ToolBase):
    """Hands the conversation to another published agent of the same tenant."""

    kind: Literal["transfer_to_agent"]
    agent_id: str = Field(pattern=SLUG_PATTERN, max_length=64, description="The target agent.")
    message: str = Field(default="", max_length=500, description="Spoken before the handoff.")


class TransferCallTool(ToolBase):
    """SIP transfer of a phone participant to a number (livekit-api TransferSIPParticipant)."""

    kind: Literal["transfer_call"]
    phone_number: str = Field(pattern=E164_PATTERN, description="E.164, e.g. +14155550100.")
    message: str = Field(default="", max_length=500, description="Spoken before transferring.")


DTMF_DIGITS_PATTERN = r"^[0-9*#A-Dw]{1,64}$"
"""Keypad tones the ``send_dtmf`` tool sends: 0-9, *, #, A-D; ``w`` is a half-second pause."""


class SendDtmfTool(ToolBase):
    """Presses keys on the phone line (DTMF tones to the SIP participant), e.g. to get
    through a phone menu. The platform defines its one argument, ``digits``."""

    kind: Literal["send_dtmf"]

    @field_validator("parameters")
    @classmethod
    def _fixed_parameters(cls, value: list[ToolParameterConfig]) -> list[ToolParameterConfig]:
        if value:
            raise ValueError("send_dtmf has one built-in argument (digits); declare none")
        return value

    def compile_parameters(self) -> CompiledSchema:
        spec = FieldSpec(
            name="digits",
            type="str",
            description="The keys to press in order: 0-9, *, #, A-D; w waits half a second.",
            constraints={"pattern": DTMF_DIGITS_PATTERN},
        )
        return default_registry.get_or_compile(f"tool_{self.name}", (spec,), speech=False)


def _tool_kind(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, Mapping) else getattr(value, "kind", None)
    return kind if kind in TOOL_KINDS else None


# A callable discriminator: the base's before-validator on every field rules out ``kind=``.
ToolConfig = Annotated[
    Annotated[HTTPTool, Tag("http")]
    | Annotated[EndCallTool, Tag("end_call")]
    | Annotated[TransferToAgentTool, Tag("transfer_to_agent")]
    | Annotated[TransferCallTool, Tag("transfer_call")]
    | Annotated[SendDtmfTool, Tag("send_dtmf")],
    Discriminator(
        _tool_kind,
        custom_error_type="tool_kind",
        custom_error_message=f"kind must be one of {', '.join(TOOL_KINDS)}",
    ),
]


class MCPServerConfig(Contract):
    """A remote MCP server over streamable HTTP; only ``allowed_tools`` are offered."""

    name: str = Field(pattern=SECRET_NAME_PATTERN, max_length=64)
    url: str = Field(max_length=2000)
    auth_header: str = Field(default="Authorization", max_length=100)
    auth_secret: str | None = Field(
        default=None,
        pattern=SECRET_NAME_PATTERN,
        description="Tenant secret whose value is sent in auth_header.",
    )
    auth_scheme: Literal["", "Bearer"] = Field(
        default="Bearer", description='Prefix of the header value ("Bearer <secret>").'
    )
    allowed_tools: list[str] = Field(min_length=1, max_length=100)
    timeout_seconds: float = Field(default=10.0, gt=0, le=HTTP_TOOL_MAX_TIMEOUT)

    _url = field_validator("url")(_check_http_url)

    @field_validator("auth_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not HEADER_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid header name")
        return value

    @field_validator("allowed_tools")
    @classmethod
    def _tool_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
                raise ValueError(f"{name!r} is not a valid tool name")
        if len(set(value)) != len(value):
            raise ValueError("each tool may be listed once")
        return value


class ToolsConfig(Contract):
    """The tools the model may call, remote MCP servers, and how a turn waits for tools."""

    tools: list[ToolConfig] = Field(default_factory=list, max_length=MAX_TOOLS)
    mcp_servers: list[MCPServerConfig] = Field(default_factory=list, max_length=10)
    filler_after_seconds: float | None = Field(
        default=1.5,
        gt=0,
        le=30,
        description="A tool still running after this long: the agent says filler_text once. "
        "null: never.",
    )
    filler_text: str = Field(default="One moment, please.", max_length=200)
    max_tool_steps: int = Field(
        default=3, ge=1, le=10, description="Tool rounds the model may take in one turn."
    )

    def tool(self, name: str) -> ToolBase | None:
        return next((t for t in self.tools if t.name == name), None)

    def secret_references(self) -> list[tuple[Loc, str]]:
        """``(location, secret name)`` of every tenant secret the section uses."""
        refs = [
            (("tools", index, *loc), name)
            for index, tool in enumerate(self.tools)
            for loc, name in tool.secret_references()
        ]
        refs += [
            (("mcp_servers", index, "auth_secret"), server.auth_secret)
            for index, server in enumerate(self.mcp_servers)
            if server.auth_secret
        ]
        return refs

    def secret_names(self) -> set[str]:
        return {name for _, name in self.secret_references()}

    def handoff_targets(self) -> list[tuple[Loc, str]]:
        """``(location, agent_id)`` of every ``transfer_to_agent`` target."""
        return [
            (("tools", index, "agent_id"), tool.agent_id)
            for index, tool in enumerate(self.tools)
            if isinstance(tool, TransferToAgentTool)
        ]

    def cross_check(self) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        seen: dict[str, str] = {}
        for index, tool in enumerate(self.tools):
            issues += [(("tools", index, *loc), msg) for loc, msg in tool.cross_check()]
            if tool.name in seen:
                issues.append((("tools", index, "name"), f"duplicate tool name {tool.name!r}"))
            seen[tool.name] = "tool"
        servers: set[str] = set()
        for index, server in enumerate(self.mcp_servers):
            if server.name in servers:
                issues.append(
                    (("mcp_servers", index, "name"), f"duplicate server name {server.name!r}")
                )
            servers.add(server.name)
            for position, name in enumerate(server.allowed_tools):
                if name in seen:
                    issues.append(
                        (
                            ("mcp_servers", index, "allowed_tools", position),
                            f"tool name {name!r} is already used by another tool",
                        )
                    )
                seen[name] = "mcp"
        return issues


class TenantConfig(Contract):
    """Informational on export; importing never changes the target tenant's settings."""

    tenant_id: str = ""
    isolation_level: Literal["session", "user", "organization"] = "session"
    rate_limits: dict[str, int | None] = Field(default_factory=dict)
    quotas: dict[str, int | None] = Field(default_factory=dict)


SECTION_CONTRACTS: dict[str, type[Contract]] = {
    "prompt_config": PromptConfig,
    "schema_config": SchemaConfig,
    "llm_config": LLMConfig,
    "stt_config": STTConfig,
    "tts_config": TTSConfig,
    "tracing_config": TracingConfig,
    "pipeline_config": PipelineConfig,
    "analysis_config": AnalysisConfig,
    "tools_config": ToolsConfig,
}
"""THE configuration sections, in document order."""
COLUMN_SECTIONS: tuple[str, ...] = tuple(s for s in SECTION_CONTRACTS if s != "schema_config")
"""Sections stored as one JSON column each on the agent (the schema is stored as rows)."""


class AgentDocument(Contract):
    """The whole agent configuration, in the seed's ``AgentConfiguration`` shape."""

    agent_id: str = Field(pattern=SLUG_PATTERN, max_length=64)
    agent_type: str = Field(default="generic", pattern=SLUG_PATTERN, max_length=50)
    name: str = Field(default="", max_length=200)
    version: str = Field(default="0.0.0", pattern=SEMVER_PATTERN)
    enabled: bool = True
    reload_policy: Literal["keep", "apply"] = "keep"
    prompt_config: PromptConfig
    schema_config: SchemaConfig
    llm_config: LLMConfig = Field(default_factory=LLMConfig)
    stt_config: STTConfig = Field(default_factory=STTConfig)
    tts_config: TTSConfig = Field(default_factory=TTSConfig)
    tracing_config: TracingConfig = Field(default_factory=TracingConfig)
    pipeline_config: PipelineConfig = Field(default_factory=PipelineConfig)
    analysis_config: AnalysisConfig = Field(default_factory=AnalysisConfig)
    tools_config: ToolsConfig = Field(default_factory=ToolsConfig)
    tenant_config: TenantConfig | None = None
    # Accepted for compatibility with seed documents; never exported.
    created_at: datetime | None = Field(default=None, exclude=True)
    updated_at: datetime | None = Field(default=None, exclude=True)

    SECTIONS: ClassVar[tuple[str, ...]] = tuple(SECTION_CONTRACTS)
    _inferences: list[ContractWarning] = PrivateAttr(default_factory=list)

    def inferred(self) -> tuple[Contract, list[tuple[Loc, str]]]:
        schema, notes = self.schema_config.with_inferred_spoken(self.tts_config.instruction_field)
        if not notes:
            return self, []
        document = self.model_copy(update={"schema_config": schema})
        return document, [(("schema_config", *loc), message) for loc, message in notes]

    def warnings(self) -> list[ContractWarning]:
        """What parsing inferred, plus settings accepted that have no effect (for the API's
        ``warnings`` list and the admin's warning messages)."""
        advisories = [
            ContractWarning(format_loc(("tts_config", *loc)), message)
            for loc, message in self.tts_config.advisories()
        ]
        return [*self._inferences, *advisories]

    def compiled_schema(self) -> CompiledSchema:
        """The schema as sent to the LLM: speech-first, instructions ordered by their timing."""
        return self.schema_config.compile(self.tts_config.instructions_timing)

    def cross_check(self) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        for section in self.SECTIONS:
            issues += [((section, *loc), msg) for loc, msg in getattr(self, section).cross_check()]
        if any(loc[0] == "schema_config" for loc, _ in issues):
            return issues  # the rules below need a valid schema
        compiled = self.compiled_schema()
        field_types = {f.field_name: f.field_type.strip() for f in self.schema_config.fields}
        instruction_field = self.tts_config.instruction_field
        if instruction_field is not None:
            if field_types.get(instruction_field) != "str":
                issues.append(
                    (
                        ("tts_config", "instruction_field"),
                        f"{instruction_field!r} is not a str field of the schema",
                    )
                )
            elif compiled.tts_instructions_field not in (None, instruction_field):
                issues.append(
                    (
                        ("tts_config", "instruction_field"),
                        f"disagrees with the schema, whose TTS-instructions field is "
                        f"{compiled.tts_instructions_field!r}",
                    )
                )
        issues += [
            (("tracing_config", "metadata_fields", index), f"{name!r} is not a schema field")
            for index, name in enumerate(self.tracing_config.metadata_fields)
            if name not in field_types
        ]
        for index, example in enumerate(self.prompt_config.examples):
            if isinstance(example.assistant, dict):
                result = compiled.validate_output(example.assistant)
                issues += [
                    (("prompt_config", "examples", index, "assistant"), error)
                    for error in result.errors
                ]
        return issues

    def normalized(self) -> AgentDocument:
        """The canonical form: ``tts_config.instruction_field`` and the field flag agree."""
        flagged = next(
            (f.field_name for f in self.schema_config.fields if f.metadata.tts_instructions), None
        )
        target = self.tts_config.instruction_field or flagged
        if target == flagged and self.tts_config.instruction_field == flagged:
            return self
        fields = [
            f.model_copy(
                update={
                    "metadata": f.metadata.model_copy(
                        update={"tts_instructions": f.field_name == target}
                    )
                }
            )
            for f in self.schema_config.fields
        ]
        return self.model_copy(
            update={
                "schema_config": self.schema_config.model_copy(update={"fields": fields}),
                "tts_config": self.tts_config.model_copy(update={"instruction_field": target}),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready canonical document (what export writes and versions snapshot)."""
        return self.model_dump(mode="json")

    def outbound_urls(self) -> list[OutboundURL]:
        """Every URL in the document that the platform calls, with whose key goes there."""
        return outbound_urls(self.llm_config, self.tracing_config, self.tools_config)


@dataclass(frozen=True)
class OutboundURL:
    """A tenant-supplied URL in a document (``field`` is its path) and the provider whose
    key is sent with requests to it (``None``: no key is sent)."""

    field: str
    url: str | None
    key_provider: str | None


def outbound_urls(
    llm_config: LLMConfig,
    tracing_config: TracingConfig,
    tools_config: ToolsConfig | None = None,
) -> list[OutboundURL]:
    """The outbound URLs of a document's sections (the admin form checks sections alone).
    Tool URL templates are checked with their placeholders filled; no platform key goes to
    a tool or MCP server."""
    tools = tools_config or ToolsConfig()
    return [
        *(
            OutboundURL(f"tools_config.tools[{index}].url", tool.sample_url(), None)
            for index, tool in enumerate(tools.tools)
            if isinstance(tool, HTTPTool)
        ),
        *(
            OutboundURL(f"tools_config.mcp_servers[{index}].url", server.url, None)
            for index, server in enumerate(tools.mcp_servers)
        ),
        OutboundURL("llm_config.base_url", llm_config.base_url, "openai"),
        OutboundURL(
            "tracing_config.endpoint",
            tracing_config.endpoint,
            "langfuse" if tracing_config.provider == "langfuse" else None,
        ),
    ]


def _issues(error: ContractError) -> list[tuple[Loc, str]]:
    """A ContractError's messages as (location, message) pairs relative to its root."""
    return [((path,) if path else (), m) for path, msgs in error.errors.items() for m in msgs]


def _validated(model: type[Contract], data: Any, prefix: Loc) -> Contract:
    if not isinstance(data, Mapping):
        raise ContractError({format_loc(prefix): ["Expected a JSON object."]})
    try:  # before pydantic: it recurses, and jsonb cannot store NaN or lone surrogates
        json_input.check_value(data, prefix=format_loc(prefix))
    except json_input.UnsafeJSON as exc:
        raise ContractError(exc.errors) from None
    try:
        instance = model.model_validate(dict(data))
    except ValidationError as exc:
        error = ContractError.from_pydantic(exc, prefix)
        if model is AgentDocument:
            _add_section_checks(error, data)
        raise error from None
    instance, inferences = instance.inferred()
    issues = instance.cross_check()
    if issues:
        raise ContractError.from_issues(issues, prefix)
    if isinstance(instance, AgentDocument):
        instance._inferences = [
            ContractWarning(format_loc((*prefix, *loc)), message) for loc, message in inferences
        ]
    return instance


def _add_section_checks(error: ContractError, data: Mapping[str, Any]) -> None:
    """Also report the cross-field problems of sections that are well-formed on their own,
    so one round trip shows every error."""
    for section, contract in SECTION_CONTRACTS.items():
        if not isinstance(data.get(section), Mapping) or any(
            path == section or path.startswith((f"{section}.", f"{section}["))
            for path in error.errors
        ):
            continue
        try:
            instance = contract.model_validate(dict(data[section]))
        except ValidationError:
            continue
        instance, _ = instance.inferred()
        for loc, message in instance.cross_check():
            error.errors.setdefault(format_loc((section, *loc)), []).append(message)


def parse_document(data: Any) -> AgentDocument:
    """Validate a whole configuration document and return it in canonical form."""
    document = _validated(AgentDocument, data, ())
    assert isinstance(document, AgentDocument)
    normalized = document.normalized()
    normalized._inferences = list(document._inferences)
    return normalized


def parse_section(section: str, data: Any) -> Contract:
    """Validate one section on its own (rules spanning sections need ``parse_document``)."""
    if section not in SECTION_CONTRACTS:
        raise ContractError(
            {section: [f"Unknown section; expected one of {list(SECTION_CONTRACTS)}."]}
        )
    return _validated(SECTION_CONTRACTS[section], data, (section,))
