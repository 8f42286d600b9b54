"""The job side of an inbound call: SIP participant attributes -> session, or the configured
message and a hang-up when the tenant is over quota."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from livekit import rtc

from sessions_app.models import Session
from sessions_app.telephony import services
from worker import telephony

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "+14155550100"


class FakeJobContext:
    """What ``answer_inbound_call`` uses of livekit-agents' ``JobContext``."""

    def __init__(self, metadata: dict, attributes: dict, room_name: str):
        self.job = SimpleNamespace(metadata=json.dumps(metadata))
        self.room = SimpleNamespace(name=room_name)
        self.participant = SimpleNamespace(attributes=attributes)
        self.connected = False
        self.waited_for: object = None

    async def connect(self) -> None:
        self.connected = True

    async def wait_for_participant(self, *, kind: object) -> SimpleNamespace:
        self.waited_for = kind
        return self.participant


def call(phone, caller: str, room: str) -> FakeJobContext:
    metadata = services.phone_number_job_metadata(phone)
    attributes = {"sip.phoneNumber": caller, "sip.trunkPhoneNumber": NUMBER}
    return FakeJobContext(metadata, attributes, room)


def test_the_job_claims_a_session_for_the_caller_or_says_no(published_agent):
    tenant = published_agent.tenant
    tenant.max_concurrent_sessions = 1
    tenant.save()
    phone = services.phone_number_create(
        tenant=tenant, number=NUMBER, agent=published_agent, over_quota_message="Lines busy."
    )
    rejected: list[tuple[str, int]] = []

    async def reject(ctx, message, phone_number_id):
        rejected.append((message, phone_number_id))

    first = call(phone, "+33600000001", "va-call-_+33600000001_x")
    metadata = telephony.inbound_metadata(first)
    assert metadata["kind"] == "inbound_call"
    session_id = async_to_sync(telephony.answer_inbound_call)(first, metadata, reject=reject)
    assert first.connected and first.waited_for == rtc.ParticipantKind.PARTICIPANT_KIND_SIP
    session = Session.objects.get(pk=session_id)
    assert session.user_id == "+33600000001" and session.user_details["phone"] == "+33600000001"
    assert session.room_name == "va-call-_+33600000001_x"
    assert rejected == []

    second = call(phone, "+33600000002", "va-call-_+33600000002_y")
    assert (
        async_to_sync(telephony.answer_inbound_call)(
            second, telephony.inbound_metadata(second), reject=reject
        )
        is None
    )
    assert rejected == [("Lines busy.", phone.pk)]


def test_other_jobs_are_not_inbound_calls():
    ctx = FakeJobContext({"session_id": "abc"}, {}, "room")
    assert telephony.inbound_metadata(ctx) == {}
    ctx.job.metadata = "not json"
    assert telephony.inbound_metadata(ctx) == {}
