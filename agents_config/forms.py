"""Admin forms built from the contracts.

Each config section is rendered as ordinary form fields generated from its pydantic contract
(choices from ``Literal``, checkboxes for ``bool``, numbers for numbers, JSON editors for
structured values), and validated by the same contracts: a form has no rules of its own.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

from django import forms
from django.core.exceptions import ValidationError
from pydantic.fields import FieldInfo

from agents_config.contracts import (
    COLUMN_SECTIONS,
    OPENAI_TTS_VOICES,
    SECTION_CONTRACTS,
    SLUG_PATTERN,
    ContractError,
    TTSConfig,
    outbound_urls,
    parse_document,
    parse_section,
)
from agents_config.models import Agent, SchemaField
from agents_config.selectors import agent_draft_document
from tenants.platform import json_input

# Sections edited as fields on the agent form (the schema is edited as inline rows).
FORM_SECTIONS = COLUMN_SECTIONS
SEPARATOR = "__"
LONG_TEXT = {
    "instructions",
    "default_instructions",
    "fallback_line",
    "summary_prompt",
    "success_criteria",
}


class PrettyJSONField(forms.JSONField):
    """A JSON editor that shows its value indented."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 6, "cols": 80, "class": "vLargeTextField"})
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        """Django's parsing, within ``json_input``'s limits (depth, finite numbers...)."""
        if isinstance(value, str) and value not in self.empty_values and not self.disabled:
            try:
                json_input.loads(value)
            except json_input.UnsafeJSON as exc:
                raise ValidationError(str(exc), code="invalid") from None
            except ValueError:
                pass  # Django's own message for text that is not JSON
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        if isinstance(data, str) and json_input.exceeds_depth(data):
            return forms.fields.InvalidJSONInput(data)
        return super().bound_data(data, initial)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        if value is None:
            return ""  # empty: no value (what the field reads back as None)
        return json.dumps(value, indent=2, ensure_ascii=False)


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def form_field_for(name: str, info: FieldInfo) -> forms.Field:
    """A form field for one contract field; the contract still does the validating."""
    annotation, _ = _unwrap_optional(info.annotation)
    common: dict[str, Any] = {"required": False, "help_text": info.description or ""}
    origin = get_origin(annotation)
    if annotation is bool:
        return forms.BooleanField(**common)
    if origin is Literal:
        choices = [(value, value) for value in get_args(annotation)]
        return forms.ChoiceField(choices=choices, **common)
    if annotation is int:
        return forms.IntegerField(**common)
    if annotation is float:
        return forms.FloatField(**common)
    if annotation is str:
        widget = (
            forms.Textarea(
                attrs={
                    "rows": 12 if name == "instructions" else 3,
                    "cols": 80,
                    "class": "vLargeTextField",
                }
            )
            if name in LONG_TEXT
            else forms.TextInput(attrs={"class": "vTextField"})
        )
        return forms.CharField(widget=widget, strip=False, **common)
    if origin is list and get_args(annotation) == (str,):
        common["help_text"] = (common["help_text"] + " Comma-separated.").strip()
        return forms.CharField(widget=forms.TextInput(attrs={"class": "vTextField"}), **common)
    return PrettyJSONField(**common)


def _to_form_value(info: FieldInfo, value: Any) -> Any:
    annotation, _ = _unwrap_optional(info.annotation)
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return ", ".join(value or [])
    return value


def _from_form_value(info: FieldInfo, value: Any) -> Any:
    annotation, optional = _unwrap_optional(info.annotation)
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return [item.strip() for item in (value or "").split(",") if item.strip()]
    if value in (None, "") and (optional or annotation is not str):
        return None if optional else info.get_default(call_default_factory=True)
    return value


class AgentAdminForm(forms.ModelForm):
    """The agent's draft: top-level fields plus one generated field per section setting."""

    class Meta:
        model = Agent
        fields = [
            "tenant",
            "agent_id",
            "name",
            "agent_type",
            "enabled",
            "reload_policy",
            "schema_id",
            "schema_version",
            "custom_validators",
            "spoken_key_alias",
        ]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if "custom_validators" in self.fields:
            self.fields[
                "custom_validators"
            ].help_text = 'JSON list of validator names, e.g. ["non_empty_spoken"].'
        for section in FORM_SECTIONS:
            stored = getattr(self.instance, section, None) or {}
            for name, info in SECTION_CONTRACTS[section].model_fields.items():
                default = (
                    None if info.is_required() else info.get_default(call_default_factory=True)
                )
                value = stored.get(name, default)
                self.initial.setdefault(f"{section}{SEPARATOR}{name}", _to_form_value(info, value))
        self._offer_known_voices()

    def _offer_known_voices(self) -> None:
        """The voice is a choice list when the provider's voices are known (OpenAI's)."""
        key = f"tts_config{SEPARATOR}voice"
        if key not in self.fields:
            return
        provider = (
            self.data.get(f"tts_config{SEPARATOR}provider")
            if self.is_bound
            else self.initial.get(f"tts_config{SEPARATOR}provider")
        ) or TTSConfig.model_fields["provider"].default
        if provider != "openai":
            return
        current = self.data.get(key) if self.is_bound else self.initial.get(key)
        voices = sorted(OPENAI_TTS_VOICES | ({current} if current else set()))
        field = self.fields[key]
        field.widget = forms.Select(choices=[(v, v) for v in voices])
        field.help_text = "OpenAI's voices."

    @classmethod
    def section_field_names(cls, section: str) -> list[str]:
        return [f"{section}{SEPARATOR}{name}" for name in SECTION_CONTRACTS[section].model_fields]

    # Set by ``AgentAdmin.get_form``: the editing user's role in a tenant (None: trusted).
    outbound_role: Callable[[Any], str | None] | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        parsed: dict[str, Any] = {}
        for section in FORM_SECTIONS:
            contract = SECTION_CONTRACTS[section]
            data = {}
            for name, info in contract.model_fields.items():
                key = f"{section}{SEPARATOR}{name}"
                if key in cleaned:
                    data[name] = _from_form_value(info, cleaned[key])
            setattr(self.instance, section, data)
            try:
                parsed[section] = parse_section(section, data)
                # What the contract made of it (e.g. a textarea's CRLF is stored as LF).
                setattr(self.instance, section, parsed[section].model_dump(mode="json"))
            except ContractError as exc:
                unplaced = self.add_contract_errors(exc)
                if unplaced:
                    self.add_error(None, unplaced)
        if "llm_config" in parsed and "tracing_config" in parsed and "tools_config" in parsed:
            self._check_outbound_urls(cleaned, parsed)
        return cleaned

    def _check_outbound_urls(self, cleaned: dict[str, Any], parsed: dict[str, Any]) -> None:
        """Who may change outbound URLs and where keys may go: the service's check."""
        from agents_config.services import OutboundURLForbidden, agent_outbound_check

        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        if tenant is None:
            return  # the missing tenant is reported on its field
        previous = None
        if self.instance.pk is not None:
            stored = Agent.objects.get(pk=self.instance.pk)
            try:
                previous = outbound_urls(
                    parse_section("llm_config", stored.llm_config),
                    parse_section("tracing_config", stored.tracing_config),
                    parse_section("tools_config", stored.tools_config or {}),
                )
            except ContractError:
                previous = None
        role_for = type(self).outbound_role
        try:
            agent_outbound_check(
                tenant=tenant,
                document=outbound_urls(
                    parsed["llm_config"], parsed["tracing_config"], parsed["tools_config"]
                ),
                previous=previous,
                role=role_for(tenant) if role_for is not None else None,
            )
        except (ContractError, OutboundURLForbidden) as exc:
            errors = exc.errors if isinstance(exc, ContractError) else exc.fields
            unplaced = self.add_contract_errors(ContractError(errors))
            if unplaced:
                self.add_error(None, unplaced)

    def add_contract_errors(self, error: ContractError) -> list[str]:
        """Attach contract errors to the matching form fields; return the rest."""
        unplaced: list[str] = []
        for path, messages in error.errors.items():
            head, _, rest = path.partition(".")
            key = f"{head}{SEPARATOR}{rest.split('.')[0].split('[')[0]}" if rest else head
            if key in self.fields:
                self.add_error(key, [f"{path}: {m}" if path != key else m for m in messages])
            else:
                unplaced += [f"{path}: {m}" for m in messages]
        return unplaced


# Section fields are declared on the class (not added per instance) so the admin's
# fieldsets and modelform_factory know them.
for _section in FORM_SECTIONS:
    for _name, _info in SECTION_CONTRACTS[_section].model_fields.items():
        _field = form_field_for(_name, _info)
        _field.label = _name.replace("_", " ").capitalize()
        AgentAdminForm.base_fields[f"{_section}{SEPARATOR}{_name}"] = _field
        AgentAdminForm.declared_fields[f"{_section}{SEPARATOR}{_name}"] = _field


def _compact_json_editor() -> forms.Textarea:
    """A two-line JSON editor for a table cell (resizable)."""
    return forms.Textarea(attrs={"rows": 2, "cols": 14, "class": "schema-json"})


class SchemaFieldInlineForm(forms.ModelForm):
    """One row of the schema table, with widgets small enough for every column to fit a
    1,280 px screen (``agents_config/static/agents_config/schema_fields.css``)."""

    default = PrettyJSONField(
        required=False, help_text="JSON value; empty for none.", widget=_compact_json_editor()
    )
    constraints = PrettyJSONField(
        required=False, help_text='e.g. {"ge": 1, "le": 10}', widget=_compact_json_editor()
    )

    class Meta:
        model = SchemaField
        fields = [
            "position",
            "field_name",
            "field_type",
            "description",
            "required",
            "default",
            "constraints",
            "spoken",
            "tts_instructions",
            "hidden",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2, "cols": 20}),
            "field_type": forms.TextInput(attrs={"size": 14}),
            "field_name": forms.TextInput(attrs={"size": 12}),
            "position": forms.NumberInput(attrs={"min": 0}),
        }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False  # blank: after the other rows
        self.fields["position"].label = "Pos."

    def clean_constraints(self) -> dict[str, Any]:
        return self.cleaned_data.get("constraints") or {}


class SchemaFieldInlineFormSet(forms.BaseInlineFormSet):
    """Validates the whole document (sections + these rows) through the contracts.

    Errors about a schema field land on its row; everything else is shown above the inline.
    The agent form has already applied its section values to ``self.instance``.
    """

    def next_position(self) -> int:
        positions = [f.position for f in self.queryset] if self.instance.pk else []
        return max(positions) + 1 if positions else 0

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        """New rows (the extra ones and the "add another" template) start optional and after
        the existing rows, so a default typed into them is valid."""
        kwargs = super().get_form_kwargs(index)
        if index is None or index >= self.initial_form_count():
            kwargs["initial"] = {
                "required": False,
                "position": self.next_position(),
                "constraints": {},
            }
        return kwargs

    def error_summary(self) -> list[tuple[str, str]]:
        """Every row error as (the row's field name, "Column: message"), for the list shown
        above the table so no error hides in a scrolled-away column."""
        summary: list[tuple[str, str]] = []
        for index, form in enumerate(self.forms):
            if not form.errors:
                continue
            name = (form["field_name"].value() or "").strip() or f"row {index + 1}"
            for field, messages in form.errors.items():
                label = (
                    form.fields[field].label or field.replace("_", " ")
                    if field in form.fields
                    else ""
                )
                for message in messages:
                    summary.append(
                        (name, f"{str(label).capitalize()}: {message}" if label else message)
                    )
        return summary

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        position = self.next_position()
        for form in self.forms:
            if form.cleaned_data and form.cleaned_data.get("position") is None:
                form.cleaned_data["position"] = position
                form.instance.position = position
                position += 1
        rows = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]
        rows.sort(key=lambda form: form.cleaned_data.get("position") or 0)
        fields = [
            SchemaField(
                **{
                    k: v
                    for k, v in form.cleaned_data.items()
                    if k in SchemaFieldInlineForm.Meta.fields
                }
            )
            for form in rows
        ]
        if not self.instance.tenant_id:
            return  # the agent form reports the missing tenant
        try:
            document = parse_document(agent_draft_document(self.instance, fields=fields))
        except ContractError as exc:
            unplaced: list[str] = []
            for path, messages in exc.errors.items():
                prefix = "schema_config.fields["
                if path.startswith(prefix):
                    index_text, _, rest = path[len(prefix) :].partition("]")
                    form = rows[int(index_text)]
                    attr = rest.lstrip(".").split(".")[0].split("[")[0]
                    attr = {"field_name": "field_name", "metadata": "spoken"}.get(attr, attr)
                    target = attr if attr in form.fields else None
                    form.add_error(
                        target, [f"{rest.lstrip('.') or 'field'}: {m}" for m in messages]
                    )
                else:
                    unplaced += [f"{path or 'document'}: {m}" for m in messages]
            if unplaced:
                raise ValidationError(unplaced) from None
            return
        # Store the rows as the contract normalised them (a textarea's CRLF becomes LF) and
        # what it inferred (the spoken field) so the draft exports it marked; an inferred row
        # is saved even if the user did not touch it.
        for form, parsed in zip(rows, document.schema_config.fields, strict=True):
            form.instance.description = parsed.description
            if parsed.metadata.spoken and not form.instance.spoken:
                form.instance.spoken = True
                form.has_changed = lambda: True  # type: ignore[method-assign]
        self.contract_warnings = document.warnings()


class ImportAgentForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=None)
    document = forms.FileField(required=False, help_text="An exported agent JSON file.")
    document_text = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 100}),
        label="…or paste the JSON document",
    )
    replace = forms.BooleanField(required=False, help_text="Update the agent if it exists.")
    publish = forms.BooleanField(required=False, help_text="Publish after importing.")

    def __init__(self, *args: Any, tenants: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("document")
        text = (
            upload.read().decode("utf-8", errors="replace")
            if upload
            else cleaned.get("document_text", "")
        )
        if not text.strip():
            raise ValidationError("Upload a file or paste a document.")
        try:
            cleaned["data"] = json_input.loads(text)
        except json_input.UnsafeJSON as exc:
            raise ValidationError(f"Not accepted: {exc}") from None
        except ValueError as exc:
            raise ValidationError(f"Not valid JSON: {exc}") from None
        return cleaned


class FromTemplateForm(forms.Form):
    """New agent from a template: where, which template, and the new agent's identity."""

    tenant = forms.ModelChoiceField(queryset=None)
    template = forms.ChoiceField(choices=(), widget=forms.RadioSelect)
    agent_id = forms.RegexField(
        regex=SLUG_PATTERN, max_length=64, help_text="Lowercase letters, digits, - and _."
    )
    name = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: Any, tenants: Any, templates: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants
        self.fields["template"].choices = [
            (t.template_id, f"{t.title} ({t.template_id}): {t.description}")
            for t in sorted(templates, key=lambda t: t.template_id)
        ]


class PublishForm(forms.Form):
    bump = forms.ChoiceField(
        choices=[("minor", "minor"), ("patch", "patch"), ("major", "major")], initial="minor"
    )
    version = forms.CharField(required=False, help_text="Explicit version; overrides bump.")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class RollbackForm(forms.Form):
    version = forms.ModelChoiceField(queryset=None, empty_label=None)
    note = forms.CharField(required=False)

    def __init__(self, *args: Any, versions: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = versions


class DuplicateForm(forms.Form):
    new_agent_id = forms.SlugField(max_length=64)
    name = forms.CharField(required=False, max_length=200)
