"""Test-suite endpoints (``/api/v1/agents/config/{agent_id}/tests/...``).

Reading cases and runs is READ on the agent; creating cases and starting runs is UPDATE
(developer and up). Runs execute in Celery: starting one answers 202 with its id.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from agents_config.apis import AGENT_ID_PARAM, AgentObjectAPIView
from agents_config.test_suites.models import AgentTestCase, AgentTestRun
from agents_config.test_suites.serializers import (
    TestCaseInputSerializer,
    TestCaseSerializer,
    TestRunInputSerializer,
    TestRunSerializer,
)
from agents_config.test_suites.services import agent_test_case_create, agent_test_run_start
from tenants.api_base import (
    BODY_ERRORS,
    ApiPagination,
    NoQuerySerializer,
    PageQuerySerializer,
    error_responses,
    parse_body,
    parse_query,
)

RUN_ID_PARAM = OpenApiParameter("run_id", int, OpenApiParameter.PATH, description="Run id.")


class TestCasePagination(ApiPagination):
    results_key = "cases"


class TestCaseListCreateApi(AgentObjectAPIView):
    """The agent's test cases: list (READ) and create (UPDATE)."""

    pagination_class = TestCasePagination

    @extend_schema(
        operation_id="agent_test_cases_list",
        tags=["tests"],
        summary="The agent's test cases",
        parameters=[AGENT_ID_PARAM, PageQuerySerializer],
        responses={200: TestCaseSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, agent_id: str) -> Response:
        parse_query(PageQuerySerializer, request)
        agent = self.get_agent(agent_id)
        cases = AgentTestCase.objects.filter(agent=agent).order_by("name")
        return self.paginated(cases, TestCaseSerializer)

    @extend_schema(
        operation_id="agent_test_case_create",
        tags=["tests"],
        summary="Create a test case (validated against the expectation contract)",
        request=TestCaseInputSerializer,
        parameters=[AGENT_ID_PARAM],
        responses={201: TestCaseSerializer, **error_responses(*BODY_ERRORS, 404, 409)},
    )
    def post(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        body = parse_body(TestCaseInputSerializer, request)
        case = agent_test_case_create(agent=agent, **body, actor=self.actor)
        return Response(TestCaseSerializer(case).data, status=status.HTTP_201_CREATED)


class TestRunStartApi(AgentObjectAPIView):
    """Start a run of the suite (or one case) against a version or the draft."""

    @extend_schema(
        operation_id="agent_test_run_start",
        tags=["tests"],
        summary="Run the test suite (or one case) in the background",
        request=TestRunInputSerializer,
        parameters=[AGENT_ID_PARAM],
        responses={202: TestRunSerializer, **error_responses(*BODY_ERRORS, 404, 409)},
    )
    def post(self, request: Request, agent_id: str) -> Response:
        agent = self.get_agent(agent_id)
        body = parse_body(TestRunInputSerializer, request)
        run = agent_test_run_start(
            agent=agent,
            version=body.get("version"),
            case_name=body.get("case"),
            actor=self.actor,
        )
        return Response(TestRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class TestRunDetailApi(AgentObjectAPIView):
    """One run: status, progress and results."""

    @extend_schema(
        operation_id="agent_test_run_detail",
        tags=["tests"],
        summary="A test run's status, progress and per-turn results",
        parameters=[AGENT_ID_PARAM, RUN_ID_PARAM],
        responses={200: TestRunSerializer, **error_responses(404)},
    )
    def get(self, request: Request, agent_id: str, run_id: int) -> Response:
        parse_query(NoQuerySerializer, request)
        agent = self.get_agent(agent_id)
        run = (
            AgentTestRun.objects.select_related("agent", "case")
            .filter(agent=agent, pk=run_id)
            .first()
        )
        if run is None:
            raise NotFound(f"Agent {agent.agent_id!r} has no test run {run_id}.")
        return Response(TestRunSerializer(run).data)
