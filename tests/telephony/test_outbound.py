"""Outbound calls: trunk provisioning, then each outcome the fake LiveKit answers with
(200 answered, 486 busy, 480/408 no answer, 503 retried) through the real livekit-api client."""

from __future__ import annotations

import pytest

from agents_config.contracts import ContractError
from sessions_app.models import SessionStatus
from sessions_app.services import QuotaExceeded, SessionRejected
from sessions_app.telephony import services, tasks
from sessions_app.telephony.models import CallStatus, PhoneCall, ProvisioningStatus

pytestmark = pytest.mark.django_db

CALLER_ID = "+14155550199"
CALLEE = "+33612345678"


@pytest.fixture
def trunk(published_agent, livekit_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        trunk = services.outbound_trunk_set(
            tenant=published_agent.tenant,
            address="example.pstn.twilio.com",
            numbers=[CALLER_ID],
            auth_username="user",
            auth_password="s3cret",
        )
    trunk.refresh_from_db()
    return trunk


def place(agent, capture, **kwargs):
    with capture(execute=True):
        call = services.call_place(
            tenant=agent.tenant, agent=agent, to=kwargs.pop("to", CALLEE), **kwargs
        )
    return PhoneCall.objects.select_related("session").get(pk=call.pk)


def history(call):
    return [change.to_status for change in call.status_changes.all()]


def test_the_outbound_trunk_is_provisioned_with_its_credentials(trunk, livekit_server):
    assert trunk.provisioning_status == ProvisioningStatus.PROVISIONED
    info = livekit_server.state.outbound_trunks[trunk.livekit_trunk_id]
    assert info.address == "example.pstn.twilio.com"
    assert list(info.numbers) == [CALLER_ID]
    assert info.auth_password == "s3cret"
    assert "s3cret" not in trunk.auth_password_encrypted
    again = services.outbound_trunk_provision(trunk=trunk)
    assert again.livekit_trunk_id == trunk.livekit_trunk_id
    assert len(livekit_server.state.outbound_trunks) == 1


def test_an_answered_call(
    published_agent, trunk, livekit_server, django_capture_on_commit_callbacks
):
    call = place(published_agent, django_capture_on_commit_callbacks, user_details={"name": "Ana"})
    assert call.call_status == CallStatus.ANSWERED
    assert history(call) == ["queued", "ringing", "answered"]
    session = call.session
    assert session.status == SessionStatus.PROVISIONED
    assert session.user_id == CALLEE and session.user_details == {"name": "Ana", "phone": CALLEE}
    # the room exists with the agent dispatched, then the phone was dialled into it
    assert livekit_server.state.dispatches[session.room_name][0].agent_name == "voice-agent"
    [dialled] = livekit_server.state.sip_participants
    assert dialled.sip_trunk_id == trunk.livekit_trunk_id
    assert dialled.sip_call_to == CALLEE and dialled.sip_number == CALLER_ID
    assert dialled.room_name == session.room_name and dialled.wait_until_answered
    assert dialled.ringing_timeout.seconds == 30
    assert livekit_server.state.auth_errors == []
    services.call_ended(session=session, reason="agent ended the call")
    call.refresh_from_db()
    assert call.call_status == CallStatus.COMPLETED and call.end_reason == "agent ended the call"


@pytest.mark.parametrize(
    ("sip_code", "outcome"),
    [(486, CallStatus.BUSY), (480, CallStatus.NO_ANSWER), (408, CallStatus.NO_ANSWER)],
)
def test_busy_and_no_answer_end_the_session(
    published_agent, trunk, livekit_server, django_capture_on_commit_callbacks, sip_code, outcome
):
    livekit_server.state.sip_outcomes[CALLEE] = sip_code
    call = place(published_agent, django_capture_on_commit_callbacks)
    assert call.call_status == outcome
    assert call.sip_status_code == sip_code
    assert history(call) == ["queued", "ringing", outcome]
    call.session.refresh_from_db()
    assert call.session.status == SessionStatus.ENDED
    assert call.session.transitions.last().reason == f"call {outcome}"


def test_other_sip_failures_fail_the_session(
    published_agent, trunk, livekit_server, django_capture_on_commit_callbacks
):
    livekit_server.state.sip_outcomes[CALLEE] = 404
    call = place(published_agent, django_capture_on_commit_callbacks)
    assert call.call_status == CallStatus.FAILED
    call.session.refresh_from_db()
    assert call.session.status == SessionStatus.FAILED


def test_transient_errors_are_retried_then_the_call_fails(
    published_agent, trunk, livekit_server, django_capture_on_commit_callbacks
):
    livekit_server.state.fail_next = 2
    call = place(published_agent, django_capture_on_commit_callbacks)
    assert call.call_status == CallStatus.ANSWERED
    assert len(livekit_server.state.sip_participants) == 1

    livekit_server.state.fail_next = 100
    second = place(published_agent, django_capture_on_commit_callbacks, to="+33612345679")
    assert second.call_status == CallStatus.FAILED
    assert livekit_server.state.fail_next == 100 - (tasks.PROVISION_MAX_RETRIES + 1)


def test_calls_are_quota_checked_and_validated(published_agent, trunk):
    tenant = published_agent.tenant
    tenant.max_concurrent_sessions = 1
    tenant.save()
    services.call_place(tenant=tenant, agent=published_agent, to=CALLEE)
    with pytest.raises(QuotaExceeded):
        services.call_place(tenant=tenant, agent=published_agent, to="+33612345679")
    with pytest.raises(ContractError) as caught:
        services.call_place(tenant=tenant, agent=published_agent, to="0612345678")
    assert "to" in caught.value.errors
    with pytest.raises(ContractError) as caught:
        services.call_place(
            tenant=tenant, agent=published_agent, to=CALLEE, from_number="+15550000000"
        )
    assert "from_number" in caught.value.errors


def test_a_call_needs_an_outbound_trunk(published_agent):
    with pytest.raises(SessionRejected):
        services.call_place(tenant=published_agent.tenant, agent=published_agent, to=CALLEE)


def test_an_answered_call_can_be_transferred(
    published_agent, trunk, livekit_server, django_capture_on_commit_callbacks
):
    call = place(published_agent, django_capture_on_commit_callbacks)
    services.call_transfer(call=call, to="+14155550111")
    [transfer] = livekit_server.state.transfers
    assert transfer.room_name == call.session.room_name
    assert transfer.participant_identity == f"sip-{CALLEE}"
    assert transfer.transfer_to == "tel:+14155550111"
    assert livekit_server.state.auth_errors == []  # sip.call + roomAdmin grants
    call.refresh_from_db()
    assert call.call_status == CallStatus.COMPLETED
    assert call.end_reason == "transferred to +14155550111"
    with pytest.raises(SessionRejected):
        services.call_transfer(call=call, to="+14155550111")
