"""API serializers for agent test suites (the case contract: ``test_suites.expectations``)."""

from __future__ import annotations

from rest_framework import serializers

from agents_config.serializers import StrictInputSerializer
from agents_config.test_suites.expectations import EXPECTATION_KINDS
from agents_config.versioning import VERSION_OR_DRAFT_PATTERN


class TestRunInputSerializer(StrictInputSerializer):
    version = serializers.RegexField(
        VERSION_OR_DRAFT_PATTERN,
        required=False,
        max_length=20,
        help_text='A published version (e.g. 1.2.0) or "draft" (the default).',
    )
    case = serializers.CharField(
        required=False, max_length=100, help_text="Run only this case (by name); default: all."
    )


class TestCaseInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    user_details = serializers.JSONField(
        required=False, default=dict, help_text="Template variables, like a session's."
    )
    overrides = serializers.JSONField(
        required=False, default=dict, help_text="Session overrides, like a session's."
    )
    turns = serializers.JSONField(
        help_text='[{"user": "Hello", "expect": [{"kind": "equals", "field": "stage", '
        '"value": "intro"}]}]; expectation kinds: ' + ", ".join(EXPECTATION_KINDS) + "."
    )
    tool_mocks = serializers.JSONField(
        required=False,
        default=dict,
        help_text='What tools answer during a run, by tool name: {"lookup_order": {"result": '
        '{"status": "shipped"}}, "cancel_order": {"error": "not allowed"}}. A suite run never '
        "calls a real system: an unmocked HTTP tool answers a tool error.",
    )


class TestCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    user_details = serializers.JSONField()
    overrides = serializers.JSONField()
    turns = serializers.JSONField()
    tool_mocks = serializers.JSONField()
    baseline = serializers.JSONField(help_text="Recorded turns of a replayed session, or [].")
    source_session = serializers.UUIDField(source="source_session_id", allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TestRunProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")


class TestRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agent_id = serializers.CharField(source="agent.agent_id")
    case = serializers.CharField(source="case.name", allow_null=True, default=None)
    version = serializers.CharField(source="version_label")
    checksum = serializers.CharField()
    status = serializers.CharField(help_text="queued, running, passed, failed or error.")
    progress = TestRunProgressSerializer(source="*")
    error = serializers.CharField()
    triggered_by = serializers.CharField()
    results = serializers.JSONField(
        help_text="Per case and turn: passed, the structured turn, each expectation with its "
        "outcome, changed fields against the baseline, timings; plus a summary."
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
