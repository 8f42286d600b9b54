"""Telephony endpoints: ``/api/v1/phone-numbers``, ``/outbound-trunk``, ``/calls``,
``/campaigns``. Reading is open to every role; managing numbers, the trunk and campaigns needs
``Action.MANAGE_TELEPHONY`` (admins). Placing a call is like starting a session: it needs read
access to the agent. Another tenant's objects are 404s.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from agents_config.contracts import ContractError
from agents_config.models import Agent, AgentVersion
from agents_config.selectors import agent_with_live_version
from sessions_app.livekit import livekit_configured
from sessions_app.telephony import services
from sessions_app.telephony.models import Campaign, OutboundTrunk, PhoneCall, PhoneNumber
from sessions_app.telephony.serializers import (
    CallCreateInputSerializer,
    CallTransferInputSerializer,
    CampaignCreateInputSerializer,
    CampaignSerializer,
    OutboundTrunkInputSerializer,
    OutboundTrunkSerializer,
    PhoneCallSerializer,
    PhoneNumberCreateInputSerializer,
    PhoneNumberSerializer,
    PhoneNumberUpdateInputSerializer,
    RecipientsAddInputSerializer,
)
from tenants.api_base import (
    BODY_ERRORS,
    ApiPagination,
    NoQuerySerializer,
    PageQuerySerializer,
    TenantAPIView,
    error_responses,
    parse_body,
    parse_query,
)
from tenants.permissions import has_object_permission
from tenants.platform.exceptions import Conflict, ServiceUnavailable
from tenants.roles import Action

MANAGE = Action.MANAGE_TELEPHONY
TAGS = ["telephony"]


class PhoneNumberPagination(ApiPagination):
    results_key = "phone_numbers"


class CampaignPagination(ApiPagination):
    results_key = "campaigns"


def _agent(tenant: Any, agent_id: str) -> Agent:
    agent = agent_with_live_version(tenant=tenant, agent_id=agent_id)
    if agent is None:
        raise ContractError({"agent_id": [f"No agent {agent_id!r} in this tenant."]})
    return agent


def _version(agent: Agent, label: str | None) -> AgentVersion | None:
    if not label:
        return None
    version = AgentVersion.objects.filter(agent=agent, version=label).first()
    if version is None:
        raise ContractError({"pinned_version": [f"Agent has no version {label!r}."]})
    return version


class PhoneNumberListCreateApi(TenantAPIView):
    method_actions = {"POST": MANAGE}
    pagination_class = PhoneNumberPagination

    @extend_schema(
        operation_id="phone_number_list",
        tags=TAGS,
        summary="The tenant's phone numbers and the agent each reaches",
        responses={200: PhoneNumberSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        parse_query(PageQuerySerializer, request)
        numbers = PhoneNumber.objects.filter(tenant=self.tenant).select_related(
            "agent", "pinned_version"
        )
        return self.paginated(numbers, PhoneNumberSerializer)

    @extend_schema(
        operation_id="phone_number_create",
        tags=TAGS,
        summary="Register a number for an agent (LiveKit trunk and dispatch rule follow)",
        request=PhoneNumberCreateInputSerializer,
        responses={201: PhoneNumberSerializer, **error_responses(*BODY_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        body = parse_body(PhoneNumberCreateInputSerializer, request)
        agent = _agent(self.tenant, body["agent_id"])
        phone = services.phone_number_create(
            tenant=self.tenant,
            number=body["number"],
            agent=agent,
            pinned_version=_version(agent, body.get("pinned_version")),
            over_quota_message=body.get("over_quota_message", ""),
            actor=self.actor,
        )
        phone.refresh_from_db()
        return Response(PhoneNumberSerializer(phone).data, status=status.HTTP_201_CREATED)


class PhoneNumberDetailApi(TenantAPIView):
    method_actions = {"PATCH": MANAGE, "DELETE": MANAGE}

    def _phone(self, number_id: int) -> PhoneNumber:
        phone = (
            PhoneNumber.objects.select_related("tenant", "agent", "pinned_version")
            .filter(tenant=self.tenant, pk=number_id)
            .first()
        )
        if phone is None:
            raise NotFound("Phone number not found.")
        return phone

    @extend_schema(
        operation_id="phone_number_retrieve",
        tags=TAGS,
        summary="One phone number",
        responses={200: PhoneNumberSerializer, **error_responses(404)},
    )
    def get(self, request: Request, number_id: int) -> Response:
        parse_query(NoQuerySerializer, request)
        return Response(PhoneNumberSerializer(self._phone(number_id)).data)

    @extend_schema(
        operation_id="phone_number_update",
        tags=TAGS,
        summary="Remap a number (agent, pinned version, over-quota message)",
        request=PhoneNumberUpdateInputSerializer,
        responses={200: PhoneNumberSerializer, **error_responses(*BODY_ERRORS, 404)},
    )
    def patch(self, request: Request, number_id: int) -> Response:
        phone = self._phone(number_id)
        body = parse_body(PhoneNumberUpdateInputSerializer, request)
        agent = _agent(self.tenant, body["agent_id"]) if "agent_id" in body else None
        pinned: Any = "unchanged"
        if "pinned_version" in body:
            pinned = _version(agent or phone.agent, body["pinned_version"])
        services.phone_number_update(
            phone=phone,
            agent=agent,
            pinned_version=pinned,
            over_quota_message=body.get("over_quota_message"),
            actor=self.actor,
        )
        phone.refresh_from_db()
        return Response(PhoneNumberSerializer(phone).data)

    @extend_schema(
        operation_id="phone_number_delete",
        tags=TAGS,
        summary="Remove a number (its LiveKit trunk and dispatch rule are deleted)",
        responses={204: None, **error_responses(404)},
    )
    def delete(self, request: Request, number_id: int) -> Response:
        services.phone_number_delete(phone=self._phone(number_id), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OutboundTrunkApi(TenantAPIView):
    method_actions = {"PUT": MANAGE}

    @extend_schema(
        operation_id="outbound_trunk_retrieve",
        tags=TAGS,
        summary="The tenant's outbound SIP trunk (the password is never returned)",
        responses={200: OutboundTrunkSerializer, **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        parse_query(NoQuerySerializer, request)
        trunk = OutboundTrunk.objects.filter(tenant=self.tenant).first()
        if trunk is None:
            raise NotFound("No outbound trunk yet.")
        return Response(OutboundTrunkSerializer(trunk).data)

    @extend_schema(
        operation_id="outbound_trunk_set",
        tags=TAGS,
        summary="Create or replace the outbound SIP trunk (provisioned in LiveKit)",
        request=OutboundTrunkInputSerializer,
        responses={200: OutboundTrunkSerializer, **error_responses(*BODY_ERRORS)},
    )
    def put(self, request: Request) -> Response:
        body = parse_body(OutboundTrunkInputSerializer, request)
        trunk = services.outbound_trunk_set(tenant=self.tenant, **body, actor=self.actor)
        trunk.refresh_from_db()
        return Response(OutboundTrunkSerializer(trunk).data)


class CallCreateApi(TenantAPIView):
    method_actions = {"POST": Action.READ}  # placing a call uses the agent, like a session

    @extend_schema(
        operation_id="call_create",
        tags=TAGS,
        summary="Place an outbound call: a quota-checked session, then the phone rings",
        request=CallCreateInputSerializer,
        responses={
            201: OpenApiResponse(PhoneCallSerializer, description="Queued."),
            **error_responses(*BODY_ERRORS, 404, 409, 503),
        },
    )
    def post(self, request: Request) -> Response:
        body = parse_body(CallCreateInputSerializer, request)
        agent = agent_with_live_version(tenant=self.tenant, agent_id=body["agent_id"])
        if agent is None or not has_object_permission(self.context, Action.READ, agent):
            raise NotFound(f"Agent {body['agent_id']!r} not found.")
        if not livekit_configured():
            raise ServiceUnavailable("LiveKit is not configured on this server.")
        call = services.call_place(
            tenant=self.tenant,
            agent=agent,
            to=body["to"],
            from_number=body["from_number"],
            user_details=body["user_details"],
            overrides=body["overrides"],
            voicemail_action=body["voicemail_action"],
            voicemail_message=body["voicemail_message"],
        )
        call.refresh_from_db()
        return Response(PhoneCallSerializer(call).data, status=status.HTTP_201_CREATED)


class CallObjectApi(TenantAPIView):
    def get_call(self, session_id: uuid.UUID) -> PhoneCall:
        call = (
            PhoneCall.objects.select_related("session__agent")
            .filter(tenant=self.tenant, session_id=session_id)
            .first()
        )
        if call is None or (
            call.session.agent is not None
            and not has_object_permission(self.context, Action.READ, call.session.agent)
        ):
            raise NotFound("Call not found.")
        return call


class CallDetailApi(CallObjectApi):
    @extend_schema(
        operation_id="call_retrieve",
        tags=TAGS,
        summary="A call's status and status history (by its session id)",
        responses={200: PhoneCallSerializer, **error_responses(404)},
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        parse_query(NoQuerySerializer, request)
        return Response(PhoneCallSerializer(self.get_call(session_id)).data)


class CallTransferApi(CallObjectApi):
    method_actions = {"POST": Action.READ}

    @extend_schema(
        operation_id="call_transfer",
        tags=TAGS,
        summary="Transfer an answered call to another number (SIP REFER)",
        request=CallTransferInputSerializer,
        responses={200: PhoneCallSerializer, **error_responses(*BODY_ERRORS, 404, 409)},
    )
    def post(self, request: Request, session_id: uuid.UUID) -> Response:
        call = self.get_call(session_id)
        body = parse_body(CallTransferInputSerializer, request)
        services.call_transfer(call=call, to=body["to"])
        call.refresh_from_db()
        return Response(PhoneCallSerializer(call).data)


class CampaignListCreateApi(TenantAPIView):
    method_actions = {"POST": MANAGE}
    pagination_class = CampaignPagination

    @extend_schema(
        operation_id="campaign_list",
        tags=TAGS,
        summary="The tenant's campaigns with their recipients' outcomes",
        responses={200: CampaignSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        parse_query(PageQuerySerializer, request)
        campaigns = Campaign.objects.filter(tenant=self.tenant).select_related("agent")
        return self.paginated(campaigns.prefetch_related("recipients"), CampaignSerializer)

    @extend_schema(
        operation_id="campaign_create",
        tags=TAGS,
        summary="Create a draft campaign with its recipients (start it with /start)",
        request=CampaignCreateInputSerializer,
        responses={201: CampaignSerializer, **error_responses(*BODY_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        body = parse_body(CampaignCreateInputSerializer, request)
        agent = _agent(self.tenant, body.pop("agent_id"))
        campaign = services.campaign_create(
            tenant=self.tenant, agent=agent, **body, actor=self.actor
        )
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignObjectApi(TenantAPIView):
    def _campaign(self, campaign_id: int) -> Campaign:
        campaign = (
            Campaign.objects.select_related("tenant", "agent")
            .filter(tenant=self.tenant, pk=campaign_id)
            .first()
        )
        if campaign is None:
            raise NotFound("Campaign not found.")
        return campaign


class CampaignDetailApi(CampaignObjectApi):
    @extend_schema(
        operation_id="campaign_retrieve",
        tags=TAGS,
        summary="A campaign with each recipient's outcome and session",
        responses={200: CampaignSerializer, **error_responses(404)},
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        parse_query(NoQuerySerializer, request)
        return Response(CampaignSerializer(self._campaign(campaign_id)).data)


class CampaignRecipientsApi(CampaignObjectApi):
    method_actions = {"POST": MANAGE}

    @extend_schema(
        operation_id="campaign_recipients_add",
        tags=TAGS,
        summary="Add recipients (numbers already listed are skipped)",
        request=RecipientsAddInputSerializer,
        responses={200: CampaignSerializer, **error_responses(*BODY_ERRORS, 404)},
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = self._campaign(campaign_id)
        body = parse_body(RecipientsAddInputSerializer, request)
        services.campaign_add_recipients(campaign=campaign, recipients=body["recipients"])
        return Response(CampaignSerializer(campaign).data)


class CampaignControlApi(CampaignObjectApi):
    method_actions = {"POST": MANAGE}

    @extend_schema(
        operation_id="campaign_control",
        tags=TAGS,
        summary="start, pause, resume or cancel a campaign",
        parameters=[
            OpenApiParameter(
                "action",
                str,
                OpenApiParameter.PATH,
                enum=["start", "pause", "resume", "cancel"],
                description="start (draft), pause (running), resume (paused), cancel.",
            )
        ],
        request=None,
        responses={200: CampaignSerializer, **error_responses(404, 409)},
    )
    def post(self, request: Request, campaign_id: int, action: str) -> Response:
        campaign = self._campaign(campaign_id)
        if not services.campaign_control(campaign=campaign, action=action, actor=self.actor):
            raise Conflict(f"Cannot {action} a campaign that is {campaign.status}.")
        return Response(CampaignSerializer(campaign).data)
