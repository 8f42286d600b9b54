"""``/api/v1/agents/config/{agent_id}/experiment`` (GET, PUT) and ``.../experiment/promote``.

Here rather than in ``agents_config`` because the comparison reads sessions.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from agents_config.apis import AGENT_ID_PARAM, AgentObjectAPIView
from agents_config.experiments import experiment_promote, experiment_set, experiment_weights
from sessions_app.experiments import version_comparison
from tenants.api_base import (
    BODY_ERRORS,
    NoQuerySerializer,
    StrictInputSerializer,
    error_responses,
    parse_body,
    parse_query,
)
from tenants.roles import Action


class ExperimentInputSerializer(StrictInputSerializer):
    weights = serializers.DictField(
        child=serializers.JSONField(),
        help_text='Published version -> whole-number weight, summing to 100: {"1.0.0": 90, '
        '"1.1.0": 10}.',
    )


class PromoteInputSerializer(StrictInputSerializer):
    version = serializers.CharField(max_length=20, help_text="The version to make live at 100 %.")


class VersionStatsSerializer(serializers.Serializer):
    version = serializers.CharField()
    sessions = serializers.IntegerField()
    turns = serializers.IntegerField()
    first_audio_p50_ms = serializers.FloatField(
        allow_null=True, help_text="End of user speech to the first audio frame, p50."
    )
    first_audio_p90_ms = serializers.FloatField(allow_null=True)
    llm_first_token_p50_ms = serializers.FloatField(allow_null=True)
    turns_with_validation_errors = serializers.IntegerField()
    validation_error_pct = serializers.FloatField(allow_null=True)
    analysed_sessions = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    outcomes = serializers.DictField(child=serializers.IntegerField())
    mean_cost_usd = serializers.CharField()
    total_cost_usd = serializers.CharField()


class ExperimentSerializer(serializers.Serializer):
    agent_id = serializers.CharField()
    live_version = serializers.CharField(allow_null=True)
    weights = serializers.DictField(child=serializers.IntegerField())
    comparison = VersionStatsSerializer(many=True)


def _body(agent) -> dict:
    weights = experiment_weights(agent=agent)
    return {
        "agent_id": agent.agent_id,
        "live_version": agent.published_version.version if agent.published_version else None,
        "weights": weights,
        "comparison": version_comparison(agent=agent, versions=list(weights)),
    }


class ExperimentApi(AgentObjectAPIView):
    """The agent's traffic split over published versions, with a per-version comparison."""

    @extend_schema(
        operation_id="agent_experiment",
        tags=["versions"],
        summary="Traffic split and per-version comparison (latency, errors, outcomes, cost)",
        parameters=[AGENT_ID_PARAM],
        responses={200: ExperimentSerializer, **error_responses(404)},
    )
    def get(self, request: Request, agent_id: str) -> Response:
        parse_query(NoQuerySerializer, request)
        return Response(ExperimentSerializer(_body(self.get_agent(agent_id))).data)

    @extend_schema(
        operation_id="agent_experiment_set",
        tags=["versions"],
        summary="Split new sessions over published versions by weight (sticky per user_id)",
        parameters=[AGENT_ID_PARAM],
        request=ExperimentInputSerializer,
        responses={200: ExperimentSerializer, **error_responses(*BODY_ERRORS, 404)},
    )
    def put(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        body = parse_body(ExperimentInputSerializer, request)
        experiment_set(agent=agent, weights=body["weights"], actor=self.actor)
        return Response(ExperimentSerializer(_body(agent)).data)


class ExperimentPromoteApi(AgentObjectAPIView):
    method_actions = {"POST": Action.UPDATE}

    @extend_schema(
        operation_id="agent_experiment_promote",
        tags=["versions"],
        summary="Make one version live at 100 % and end the experiment",
        parameters=[AGENT_ID_PARAM],
        request=PromoteInputSerializer,
        responses={200: ExperimentSerializer, **error_responses(*BODY_ERRORS, 404)},
    )
    def post(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        body = parse_body(PromoteInputSerializer, request)
        experiment_promote(agent=agent, version=body["version"].strip(), actor=self.actor)
        return Response(ExperimentSerializer(_body(agent)).data)
