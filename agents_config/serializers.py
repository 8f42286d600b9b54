"""API input and output serializers for agents.

The configuration document itself is validated by ``agents_config.contracts`` (never
re-declared here); these cover query parameters, small request bodies and response shapes.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from agents_config.contracts import SEMVER_PATTERN, SLUG_PATTERN
from tenants.api_base import StrictInputSerializer

# --- inputs ---------------------------------------------------------------------------------


class ConfigQuerySerializer(StrictInputSerializer):
    version = serializers.RegexField(
        SEMVER_PATTERN,
        required=False,
        max_length=20,
        help_text="A published version (e.g. 1.2.0); default: the draft.",
    )


class TracingToggleQuerySerializer(StrictInputSerializer):
    enabled = serializers.BooleanField(help_text="true/false (also True/False/1/0).")


class AgentListQuerySerializer(StrictInputSerializer):
    agent_type = serializers.CharField(required=False, max_length=50)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(required=False, max_length=200, help_text="Name or agent_id.")
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


class PublishInputSerializer(StrictInputSerializer):
    bump = serializers.ChoiceField(
        choices=["major", "minor", "patch"],
        default="minor",
        help_text="Semver part to bump from the latest version (ignored with `version`).",
    )
    version = serializers.RegexField(
        SEMVER_PATTERN,
        required=False,
        max_length=20,
        help_text="Explicit version; must be greater than the latest.",
    )
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class RollbackInputSerializer(StrictInputSerializer):
    version = serializers.CharField(max_length=20, help_text="The published version to restore.")
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class CreateQuerySerializer(StrictInputSerializer):
    template = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Start from this agent template (see `GET /api/v1/agents/templates`); the "
        "body then needs only `agent_id`, optionally `name` and section overrides.",
    )


class FromTemplateBodySerializer(serializers.Serializer):
    """The identity part of a from-template body; every other key is a section override."""

    agent_id = serializers.RegexField(SLUG_PATTERN, max_length=64)
    name = serializers.CharField(required=False, max_length=200, allow_blank=True)


class AgentTemplateSerializer(serializers.Serializer):
    template_id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    agent_type = serializers.CharField()
    document = serializers.JSONField(
        help_text="The template's configuration (validated; without `agent_id`)."
    )


class AgentTemplateListSerializer(serializers.Serializer):
    templates = AgentTemplateSerializer(many=True)


class ImportQuerySerializer(StrictInputSerializer):
    replace = serializers.BooleanField(
        required=False, default=False, help_text="Update the draft if the agent exists."
    )
    publish = serializers.BooleanField(
        required=False, default=False, help_text="Publish the imported draft."
    )


# --- outputs --------------------------------------------------------------------------------


class ContractWarningSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Path in the document, e.g. `tts_config.voice`.")
    message = serializers.CharField()


WARNINGS_HELP = (
    "What the contracts inferred or accepted without effect (e.g. the spoken field of a seed "
    "document, voice instructions a TTS provider cannot take). Empty when there is nothing."
)


class AgentCreatedSerializer(serializers.Serializer):
    status = serializers.CharField()
    config_id = serializers.CharField(help_text="Stable id of the agent (its database key).")
    agent_id = serializers.CharField()
    revision = serializers.IntegerField()
    warnings = ContractWarningSerializer(many=True, help_text=WARNINGS_HELP)


class AgentStatusSerializer(serializers.Serializer):
    status = serializers.CharField()
    agent_id = serializers.CharField()


class AgentUpdatedSerializer(AgentStatusSerializer):
    revision = serializers.IntegerField()
    warnings = ContractWarningSerializer(many=True, help_text=WARNINGS_HELP)


class SchemaFieldStatusSerializer(AgentUpdatedSerializer):
    field_name = serializers.CharField()


class TracingStatusSerializer(AgentUpdatedSerializer):
    enabled = serializers.BooleanField()


class AgentSummarySerializer(serializers.Serializer):
    config_id = serializers.SerializerMethodField()
    agent_id = serializers.CharField()
    name = serializers.CharField()
    agent_type = serializers.CharField()
    enabled = serializers.BooleanField()
    published_version = serializers.SerializerMethodField()
    revision = serializers.IntegerField()
    updated_at = serializers.DateTimeField()

    def get_config_id(self, agent: Any) -> str:
        return str(agent.pk)

    def get_published_version(self, agent: Any) -> str | None:
        return agent.published_version.version if agent.published_version else None


class VersionSummarySerializer(serializers.Serializer):
    version = serializers.CharField()
    checksum = serializers.CharField()
    source = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.SerializerMethodField()
    rolled_back_from = serializers.SerializerMethodField()
    is_published = serializers.SerializerMethodField()

    def get_created_by(self, version: Any) -> str | None:
        return version.created_by.get_username() if version.created_by else None

    def get_rolled_back_from(self, version: Any) -> str | None:
        return version.rolled_back_from.version if version.rolled_back_from else None

    def get_is_published(self, version: Any) -> bool:
        return version.agent.published_version_id == version.pk


class VersionDetailSerializer(VersionSummarySerializer):
    document = serializers.JSONField(help_text="The immutable configuration document.")


class VersionListSerializer(serializers.Serializer):
    agent_id = serializers.CharField()
    published_version = serializers.CharField(allow_null=True)
    versions = VersionSummarySerializer(many=True)


class ChangeSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="e.g. llm_config.temperature")
    change = serializers.ChoiceField(choices=["added", "removed", "changed"])
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class VersionDiffSerializer(serializers.Serializer):
    agent_id = serializers.CharField()
    from_version = serializers.CharField()
    to_version = serializers.CharField()
    changes = ChangeSerializer(many=True)


class PublishedSerializer(AgentStatusSerializer):
    version = serializers.CharField()
    checksum = serializers.CharField()
    note = serializers.CharField(allow_blank=True)


class RolledBackSerializer(PublishedSerializer):
    rolled_back_from = serializers.CharField()


class ImportedSerializer(AgentCreatedSerializer):
    published_version = serializers.CharField(allow_null=True)
