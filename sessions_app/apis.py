"""Session endpoints of the REST API (``/api/v1/sessions...``).

Sessions are usage of an agent rather than configuration: any role that may read an agent may
start, list, end and read sessions of it. Another tenant's session is a 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from agents_config.selectors import agent_with_live_version, agents_for_tenant
from sessions_app.livekit import livekit_configured, participant_token
from sessions_app.models import Session, SessionReport
from sessions_app.selectors import hidden_fields_of, sessions_list
from sessions_app.serializers import (
    SessionCreatedSerializer,
    SessionCreateInputSerializer,
    SessionDetailSerializer,
    SessionEndedSerializer,
    SessionListQuerySerializer,
    SessionReportSerializer,
    SessionSerializer,
)
from sessions_app.services import session_create, session_end
from tenants.api_base import (
    BODY_ERRORS,
    ApiPagination,
    NoQuerySerializer,
    TenantAPIView,
    error_responses,
    parse_body,
    parse_query,
)
from tenants.permissions import has_object_permission, visible_objects
from tenants.platform.exceptions import Conflict, ServiceUnavailable
from tenants.platform.logging import set_log_context
from tenants.roles import ORPHAN_SESSIONS_ACTION, Action, role_allows

SESSION_ID_PARAM = OpenApiParameter(
    "session_id", uuid.UUID, OpenApiParameter.PATH, description="The session's id."
)


class SessionListPagination(ApiPagination):
    results_key = "sessions"


class SessionObjectAPIView(TenantAPIView):
    """An endpoint about one session, looked up in the caller's tenant."""

    object_level = True

    def get_session(self, session_id: Any) -> Session:
        session = (
            Session.objects.select_related("tenant", "agent", "agent_version")
            .filter(pk=session_id, tenant=self.tenant)
            .first()
        )
        if session is None or not self._may_use(session):
            raise NotFound("Session not found.")
        set_log_context(
            session_id=str(session.id),
            agent_id=session.agent_slug,
            version=session.version_label,
            user_id=session.user_id,
        )
        return session

    def _may_use(self, session: Session) -> bool:
        if session.agent is None:  # the agent was deleted: tenant admins keep access
            return role_allows(self.context.role, ORPHAN_SESSIONS_ACTION)
        return has_object_permission(self.context, Action.READ, session.agent)


class SessionListCreateApi(TenantAPIView):
    """Start a session with an agent, or list sessions."""

    method_actions = {"POST": Action.READ}  # starting a session uses the agent
    pagination_class = SessionListPagination

    @extend_schema(
        operation_id="session_create",
        tags=["sessions"],
        summary="Start a session on the agent's live version",
        description="Checks the tenant's quotas atomically, pins the agent's published "
        "version, queues room provisioning and returns a LiveKit token for the user. "
        "An unpublished or disabled agent is a 409; an exhausted quota a 429 naming it; "
        "a spent monthly budget a 402 (`budget_exceeded`).",
        request=SessionCreateInputSerializer,
        responses={
            201: OpenApiResponse(SessionCreatedSerializer, description="Created (pending)."),
            **error_responses(*BODY_ERRORS, 402, 404, 409, 503),
        },
    )
    def post(self, request: Request) -> Response:
        body = parse_body(SessionCreateInputSerializer, request)
        agent = agent_with_live_version(tenant=self.tenant, agent_id=body["agent_id"])
        if agent is None or not has_object_permission(self.context, Action.READ, agent):
            raise NotFound(f"Agent {body['agent_id']!r} not found.")
        if not livekit_configured():
            raise ServiceUnavailable("LiveKit is not configured on this server.")
        session = session_create(
            tenant=self.tenant,
            agent=agent,
            user_id=body["user_id"],
            user_details=body["user_details"],
            overrides=body["overrides"],
        )
        data = dict(SessionSerializer(session).data)
        data["livekit"] = {
            "url": settings.LIVEKIT_URL,
            "room": session.room_name,
            "identity": session.user_id,
            "token": participant_token(identity=session.user_id, room_name=session.room_name),
        }
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="session_list",
        tags=["sessions"],
        summary="Sessions of the agents you may read, newest first",
        parameters=[SessionListQuerySerializer],
        responses={200: SessionSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        query = parse_query(SessionListQuerySerializer, request)
        sessions = sessions_list(
            tenant_id=self.tenant.pk,
            agents=visible_objects(self.context, agents_for_tenant(tenant=self.tenant)),
            include_orphans=role_allows(self.context.role, ORPHAN_SESSIONS_ACTION),
            agent_id=query.get("agent"),
            status=query.get("status"),
            user_id=query.get("user"),
            created_after=query.get("created_after"),
            created_before=query.get("created_before"),
        )
        return self.paginated(sessions, SessionSerializer)


class SessionDetailApi(SessionObjectAPIView):
    @extend_schema(
        operation_id="session_retrieve",
        tags=["sessions"],
        summary="A session with its status history and turns (hidden fields removed)",
        parameters=[SESSION_ID_PARAM],
        responses={200: SessionDetailSerializer, **error_responses(404)},
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        parse_query(NoQuerySerializer, request)
        session = self.get_session(session_id)
        serializer = SessionDetailSerializer(
            session, context={"hidden_fields": hidden_fields_of(session)}
        )
        return Response(serializer.data)


class SessionEndApi(SessionObjectAPIView):
    method_actions = {"POST": Action.READ}

    @extend_schema(
        operation_id="session_end",
        tags=["sessions"],
        summary="End the session: its room is deleted and its concurrent slot freed",
        request=None,
        parameters=[SESSION_ID_PARAM],
        responses={200: SessionEndedSerializer, **error_responses(404, 409)},
    )
    def post(self, request: Request, session_id: uuid.UUID) -> Response:
        session = self.get_session(session_id)
        if not session_end(session=session, reason="ended through the API"):
            raise Conflict(f"The session is already {session.status}.")
        return Response({"status": "ended", "session_id": str(session.id)})


class SessionReportApi(SessionObjectAPIView):
    @extend_schema(
        operation_id="session_report",
        tags=["sessions"],
        summary="The post-session report (hidden fields included and listed)",
        parameters=[SESSION_ID_PARAM],
        responses={200: SessionReportSerializer, **error_responses(404)},
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        parse_query(NoQuerySerializer, request)
        session = self.get_session(session_id)
        report = SessionReport.objects.filter(session=session).first()
        if report is None:
            raise NotFound("No report yet: reports are built when a session ends.")
        data = {
            "session_id": session.id,
            "created_at": report.created_at,
            "report": report.document,
        }
        return Response(SessionReportSerializer(data).data)
