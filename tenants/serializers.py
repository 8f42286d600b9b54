"""API output serializers for tenants."""

from __future__ import annotations

from rest_framework import serializers


class TenantSummarySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    isolation_level = serializers.CharField()
    time_zone = serializers.CharField()


class QuotasSerializer(serializers.Serializer):
    max_concurrent_sessions = serializers.IntegerField(allow_null=True)
    max_sessions_per_month = serializers.IntegerField(allow_null=True)
    max_sessions_per_user_per_month = serializers.IntegerField(allow_null=True)


class RateLimitsSerializer(serializers.Serializer):
    api_requests_per_minute = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    open_sessions = serializers.IntegerField()
    sessions_this_month = serializers.IntegerField()


class BudgetSpendSerializer(serializers.Serializer):
    agent_id = serializers.CharField(allow_null=True, help_text="Null: the tenant's budget.")
    monthly_limit_usd = serializers.CharField()
    threshold_percent = serializers.IntegerField()
    spent_usd = serializers.CharField()
    committed_usd = serializers.CharField(help_text="Spent plus open sessions' reservations.")


class SpendSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="The month, YYYY-MM, in the tenant's zone.")
    resets_at = serializers.DateTimeField()
    currency = serializers.CharField()
    spent_usd = serializers.CharField(help_text="Cost of this month's sessions (decimal string).")
    budgets = BudgetSpendSerializer(many=True)


class TenantMeSerializer(serializers.Serializer):
    tenant = TenantSummarySerializer()
    role = serializers.CharField()
    auth = serializers.ChoiceField(choices=["api_key", "session"])
    quotas = QuotasSerializer(help_text="Empty values mean unlimited.")
    rate_limits = RateLimitsSerializer()
    usage = UsageSerializer()
    spend = SpendSerializer(help_text="This month's cost and budgets.")
