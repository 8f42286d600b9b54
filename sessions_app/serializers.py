"""API input and output serializers for sessions."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from agents_config.selectors import without_hidden
from agents_config.serializers import StrictInputSerializer
from sessions_app.models import SessionStatus

# --- inputs ---------------------------------------------------------------------------------


class SessionCreateInputSerializer(StrictInputSerializer):
    agent_id = serializers.CharField(max_length=64)
    user_id = serializers.CharField(max_length=200)
    user_details = serializers.DictField(
        required=False, default=dict, help_text="Values for the prompt's template variables."
    )
    overrides = serializers.DictField(
        required=False,
        default=dict,
        help_text='Per-session settings the agent allows, e.g. {"tts_config": {"voice": "nova"}}.',
    )


class SessionListQuerySerializer(StrictInputSerializer):
    agent = serializers.CharField(required=False, max_length=64, help_text="agent_id.")
    status = serializers.ChoiceField(choices=SessionStatus.values, required=False)
    user = serializers.CharField(required=False, max_length=200, help_text="user_id.")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


# --- outputs --------------------------------------------------------------------------------


class LiveKitAccessSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="LiveKit server URL to connect to.")
    room = serializers.CharField()
    identity = serializers.CharField(help_text="The participant identity (= user_id).")
    token = serializers.CharField(help_text="Participant access token (JWT).")


class SessionSerializer(serializers.Serializer):
    session_id = serializers.UUIDField(source="id")
    agent_id = serializers.CharField(source="agent_slug")
    version = serializers.CharField(source="version_label")
    user_id = serializers.CharField()
    status = serializers.ChoiceField(choices=SessionStatus.values)
    failure_reason = serializers.CharField()
    room_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


class SessionCreatedSerializer(SessionSerializer):
    livekit = LiveKitAccessSerializer()


class TransitionSerializer(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    reason = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")


class TurnSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    version = serializers.CharField(source="version_label")
    user_text = serializers.CharField()
    spoken_text = serializers.CharField()
    structured_output = serializers.SerializerMethodField()
    validation_errors = serializers.ListField(child=serializers.CharField())
    llm_ttft_ms = serializers.FloatField(allow_null=True)
    first_spoken_ms = serializers.FloatField(allow_null=True)
    tts_ttfb_ms = serializers.FloatField(allow_null=True)
    e2e_latency_ms = serializers.FloatField(allow_null=True)
    end_of_turn_delay_ms = serializers.FloatField(allow_null=True)
    transcription_delay_ms = serializers.FloatField(allow_null=True)
    spoken_complete_ms = serializers.FloatField(allow_null=True)
    interrupted = serializers.BooleanField()
    tool_calls = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()

    def get_structured_output(self, turn: Any) -> dict[str, Any]:
        """Hidden schema fields are never returned here (the stored report keeps them)."""
        return without_hidden(turn.structured_output, self.context.get("hidden_fields", set()))


class SessionDetailSerializer(SessionSerializer):
    user_details = serializers.DictField()
    overrides = serializers.DictField()
    transitions = TransitionSerializer(many=True)
    turns = TurnSerializer(many=True)


class SessionEndedSerializer(serializers.Serializer):
    status = serializers.CharField()
    session_id = serializers.UUIDField()


class SessionReportSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    report = serializers.DictField(help_text="The stored report document (see README).")
