"""API input and output serializers for telephony."""

from __future__ import annotations

from rest_framework import serializers

from agents_config.serializers import StrictInputSerializer
from sessions_app.telephony.models import (
    CallStatusChange,
    Campaign,
    CampaignRecipient,
    OutboundTrunk,
    PhoneCall,
    PhoneNumber,
    VoicemailAction,
)

# --- inputs ---------------------------------------------------------------------------------


class PhoneNumberCreateInputSerializer(StrictInputSerializer):
    number = serializers.CharField(max_length=32, help_text="E.164, e.g. +14155550100.")
    agent_id = serializers.CharField(max_length=64)
    pinned_version = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="Empty: the live version."
    )
    over_quota_message = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class PhoneNumberUpdateInputSerializer(StrictInputSerializer):
    agent_id = serializers.CharField(max_length=64, required=False)
    pinned_version = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="Empty: the live version."
    )
    over_quota_message = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class OutboundTrunkInputSerializer(StrictInputSerializer):
    address = serializers.CharField(max_length=255)
    numbers = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1)
    transport = serializers.ChoiceField(choices=["auto", "udp", "tcp", "tls"], default="auto")
    auth_username = serializers.CharField(max_length=200, required=False, default="")
    auth_password = serializers.CharField(
        max_length=500, required=False, write_only=True, help_text="Stored encrypted."
    )


class CallCreateInputSerializer(StrictInputSerializer):
    agent_id = serializers.CharField(max_length=64)
    to = serializers.CharField(max_length=32, help_text="E.164 number to call.")
    from_number = serializers.CharField(
        max_length=32, required=False, default="", help_text="Caller id; default: the trunk's."
    )
    user_details = serializers.DictField(required=False, default=dict)
    overrides = serializers.DictField(required=False, default=dict)
    voicemail_action = serializers.ChoiceField(
        choices=VoicemailAction.choices,
        default=VoicemailAction.HANG_UP,
        help_text="What the agent does when an answering machine picks up.",
    )
    voicemail_message = serializers.CharField(
        max_length=2000, required=False, default="", allow_blank=True
    )


class CallTransferInputSerializer(StrictInputSerializer):
    to = serializers.CharField(max_length=32, help_text="E.164 number to hand the call to.")


class RecipientInputSerializer(StrictInputSerializer):
    phone = serializers.CharField(max_length=32)
    variables = serializers.DictField(required=False, default=dict)


class CampaignCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    agent_id = serializers.CharField(max_length=64)
    from_number = serializers.CharField(max_length=32, required=False, default="")
    window_start = serializers.TimeField(required=False, default="09:00")
    window_end = serializers.TimeField(required=False, default="18:00")
    window_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        default=[0, 1, 2, 3, 4],
    )
    max_concurrent_calls = serializers.IntegerField(min_value=1, max_value=100, default=1)
    max_attempts = serializers.IntegerField(min_value=1, max_value=10, default=3)
    retry_delay_minutes = serializers.IntegerField(min_value=0, max_value=10080, default=30)
    voicemail_action = serializers.ChoiceField(
        choices=VoicemailAction.choices,
        default=VoicemailAction.HANG_UP,
        help_text="What the agent does when an answering machine picks up.",
    )
    voicemail_message = serializers.CharField(
        max_length=2000, required=False, default="", allow_blank=True
    )
    recipients = RecipientInputSerializer(many=True, required=False, default=list)


class RecipientsAddInputSerializer(StrictInputSerializer):
    recipients = RecipientInputSerializer(many=True)


# --- outputs --------------------------------------------------------------------------------


class PhoneNumberSerializer(serializers.ModelSerializer):
    agent_id = serializers.CharField(source="agent.agent_id")
    pinned_version = serializers.CharField(source="pinned_version.version", default="")

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "number",
            "agent_id",
            "pinned_version",
            "over_quota_message",
            "provisioning_status",
            "provisioning_error",
            "livekit_trunk_id",
            "livekit_dispatch_rule_id",
            "created_at",
            "updated_at",
        ]


class OutboundTrunkSerializer(serializers.ModelSerializer):
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = OutboundTrunk
        fields = [
            "address",
            "numbers",
            "transport",
            "auth_username",
            "has_password",
            "provisioning_status",
            "provisioning_error",
            "livekit_trunk_id",
            "updated_at",
        ]

    def get_has_password(self, obj: OutboundTrunk) -> bool:
        return bool(obj.auth_password_encrypted)


class CallStatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallStatusChange
        fields = ["from_status", "to_status", "detail", "created_at"]


class PhoneCallSerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField(source="session.id")
    session_status = serializers.CharField(source="session.status")
    agent_id = serializers.CharField(source="session.agent_slug")
    history = CallStatusChangeSerializer(source="status_changes", many=True)

    class Meta:
        model = PhoneCall
        fields = [
            "session_id",
            "agent_id",
            "direction",
            "from_number",
            "to_number",
            "call_status",
            "sip_status_code",
            "end_reason",
            "voicemail_action",
            "session_status",
            "history",
            "created_at",
        ]


class RecipientSerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField(source="session.id", default=None)

    class Meta:
        model = CampaignRecipient
        fields = [
            "phone",
            "variables",
            "status",
            "attempts",
            "next_attempt_at",
            "last_call_status",
            "session_id",
        ]


class CampaignSerializer(serializers.ModelSerializer):
    agent_id = serializers.CharField(source="agent.agent_id")
    recipients = RecipientSerializer(many=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "agent_id",
            "from_number",
            "status",
            "window_start",
            "window_end",
            "window_weekdays",
            "max_concurrent_calls",
            "max_attempts",
            "retry_delay_minutes",
            "voicemail_action",
            "voicemail_message",
            "recipients",
            "created_at",
        ]
