"""Agents (editable drafts), their schema fields and immutable published versions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from agents_config.contracts import SLUG_PATTERN
from tenants.models import Tenant

slug_validator = RegexValidator(
    SLUG_PATTERN,
    "Use lowercase letters, digits, '-' and '_', starting and ending with a letter or digit.",
)


class ReloadPolicy(models.TextChoices):
    KEEP = "keep", "Keep the pinned version for live sessions"
    APPLY = "apply", "Apply new versions to live sessions at the next turn"


class Agent(models.Model):
    """An agent's editable draft. Sections hold JSON validated by ``agents_config.contracts``."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    agent_id = models.CharField(max_length=64, validators=[slug_validator])
    name = models.CharField(max_length=200, blank=True)
    agent_type = models.CharField(max_length=50, default="generic", validators=[slug_validator])
    enabled = models.BooleanField(default=True)
    reload_policy = models.CharField(
        max_length=10, choices=ReloadPolicy.choices, default=ReloadPolicy.KEEP
    )
    require_passing_tests = models.BooleanField(
        default=False,
        help_text="Publishing needs a passing run of the whole test suite on the exact draft.",
    )

    prompt_config = models.JSONField(default=dict)
    llm_config = models.JSONField(default=dict)
    stt_config = models.JSONField(default=dict)
    tts_config = models.JSONField(default=dict)
    tracing_config = models.JSONField(default=dict)
    pipeline_config = models.JSONField(default=dict)
    analysis_config = models.JSONField(default=dict, blank=True)
    tools_config = models.JSONField(default=dict, blank=True)
    schema_id = models.CharField(max_length=100, blank=True)
    schema_version = models.CharField(max_length=20, default="1.0.0")
    custom_validators = models.JSONField(default=list, blank=True)
    spoken_key_alias = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        default="say",
        help_text="The spoken field's key in the JSON the LLM writes (empty: its own name).",
    )

    published_version = models.ForeignKey(
        "AgentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The version new sessions pin.",
    )
    revision = models.PositiveIntegerField(
        default=1, editable=False, help_text="Bumped on every draft change (optimistic locking)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "agent_id"], name="unique_agent_per_tenant")
        ]
        ordering = ["tenant__slug", "agent_id"]
        indexes = [models.Index(fields=["tenant", "enabled"])]

    def __str__(self) -> str:
        return self.agent_id


class SchemaField(models.Model):
    """One field of an agent's structured-output schema, in ``position`` order."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="schema_fields")
    position = models.PositiveIntegerField(default=0)
    field_name = models.CharField(max_length=64)
    field_type = models.CharField(
        max_length=2000, help_text="e.g. str, int, list[str], Literal['a', 'b']"
    )
    description = models.TextField(blank=True, max_length=2000)
    required = models.BooleanField(default=True)
    default = models.JSONField(null=True, blank=True, help_text="JSON value; empty: none.")
    constraints = models.JSONField(
        default=dict, blank=True, help_text='JSON object, e.g. {"ge": 1, "le": 10}.'
    )
    spoken = models.BooleanField(default=False, help_text="The text spoken by TTS.")
    tts_instructions = models.BooleanField(default=False, help_text="Per-turn voice instructions.")
    hidden = models.BooleanField(default=False, help_text="Never sent to the frontend.")

    class Meta:
        ordering = ["agent", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "field_name"], name="unique_field_name_per_agent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.field_name}: {self.field_type}"


class VersionSource(models.TextChoices):
    PUBLISH = "publish", "Published"
    ROLLBACK = "rollback", "Rollback"
    IMPORT = "import", "Imported"


class AgentVersion(models.Model):
    """An immutable snapshot of the whole resolved configuration document."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=20)
    major = models.PositiveIntegerField()
    minor = models.PositiveIntegerField()
    patch = models.PositiveIntegerField()
    document = models.JSONField()
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the canonical document.")
    source = models.CharField(
        max_length=10, choices=VersionSource.choices, default=VersionSource.PUBLISH
    )
    rolled_back_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["agent", "-major", "-minor", "-patch"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "version"], name="unique_agent_version")
        ]

    def __str__(self) -> str:
        return f"{self.agent.agent_id}@{self.version}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValidationError("Published versions are immutable; publish a new version.")
        super().save(*args, **kwargs)

    @property
    def semver(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)


# Direct-FK object permission tables (guardian's recommended layout: indexed joins instead of
# generic object_pk text lookups).
class AgentUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Agent, on_delete=models.CASCADE)


class AgentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Agent, on_delete=models.CASCADE)


class VersionExperiment(models.Model):
    """Traffic split over published versions (``agents_config.experiments``)."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="experiment")
    weights = models.JSONField(
        default=dict,
        help_text="Version label -> weight (integers summing to 100), "
        'e.g. {"1.0.0": 90, "1.1.0": 10}.',
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        split = ", ".join(f"{v} {w}%" for v, w in self.weights.items())
        return f"{self.agent}: {split}"


# The test-suite models live in their feature's subpackage (app label and tables unchanged);
# imported here so Django registers them with this app.
from agents_config.test_suites import models as _test_suite_models  # noqa: E402, F401
