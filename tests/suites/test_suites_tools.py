"""Tool expectations and mocked tool results in test suites: the real livekit-agents tool
loop (the fake LLM streams real ``tool_calls`` chunks) with the tools in suite mode, a fake
tenant API on 127.0.0.1 that must never be reached, validation, the admin table, the gate."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from agents_config.contracts import ContractError
from agents_config.services import AgentConflict, agent_publish, agent_update_sections
from agents_config.test_suites.expectations import TurnView, parse_turns
from agents_config.test_suites.services import (
    agent_test_case_create,
    agent_test_case_update,
    agent_test_gate_set,
    agent_test_run_execute,
    agent_test_run_start,
)
from agents_config.test_suites.services import (
    test_case_errors as case_errors,
)
from tests.fakes.openai_server import Reply, last_user_message, tool_call_reply, tool_messages
from tests.fakes.tool_server import FakeToolServer, ToolReply
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db

ASK = "Where is order 12345?"
MOCKS = {"lookup_order": {"result": {"status": "shipped", "eta": "Friday", "internal": "x"}}}


@pytest.fixture
def api():
    with FakeToolServer() as server:
        server.routes[("GET", "/orders/12345")] = ToolReply({"status": "lost", "eta": "never"})
        yield server


def lookup_tool(base_url: str) -> dict:
    return {
        "kind": "http",
        "name": "lookup_order",
        "description": "Find an order by its number.",
        "parameters": [
            {"field_name": "order_id", "field_type": "str", "constraints": {"pattern": "^[0-9]+$"}}
        ],
        "url": base_url + "/orders/{order_id}",
        "response": {"fields": ["status", "eta"]},
    }


def tool_script(*, call: bool = True, order_id: str = "12345"):
    """The model: asked about an order it calls ``lookup_order`` (or not), then it speaks
    what the tool answered (``tool said: ...``)."""

    def script(body):
        tools = tool_messages(body)
        if tools:
            return demo_turn(f"tool said: {tools[-1]['content']}")
        if call and last_user_message(body) == ASK:
            return tool_call_reply("lookup_order", {"order_id": order_id})
        return demo_turn("How can I help?")

    return script


@pytest.fixture
def tool_agent(suite_agent, api):
    tools = {"tools": [lookup_tool(api.base_url)], "filler_after_seconds": None}
    return agent_update_sections(agent=suite_agent, partial={"tools_config": tools})


def expect_lookup(**extra) -> list[dict]:
    return [
        {
            "user": ASK,
            "expect": [
                {"kind": "tool_called", "tool": "lookup_order", **extra},
                {"kind": "spoken_contains", "value": "shipped"},
            ],
        }
    ]


def _run(agent):
    return agent_test_run_execute(run=agent_test_run_start(agent=agent, enqueue=False))


def test_tool_expectation_passes_with_the_mocked_result_and_no_request(
    tool_agent, fake_openai, api
):
    fake_openai.script = tool_script()
    agent_test_case_create(
        agent=tool_agent,
        name="looks up",
        turns=expect_lookup(
            arguments={"order_id": "12345"}, argument_patterns={"order_id": r"^\d{5}$"}, times=1
        ),
        tool_mocks=MOCKS,
    )
    run = _run(tool_agent)
    assert run.status == "passed", run.results
    [turn] = run.results["cases"][0]["turns"]
    [call] = turn["tool_calls"]
    assert call["name"] == "lookup_order" and call["status"] == "ok"
    assert call["arguments"] == {"order_id": "12345"}
    assert json.loads(call["result"]) == {"status": "shipped", "eta": "Friday"}  # mapped
    check = turn["expectations"][0]
    assert check["passed"] and check["description"].startswith("tool lookup_order called with")
    # the model saw the mock (mapped like a real reply), the tenant API saw nothing
    [result] = tool_messages(fake_openai.chat_requests[-1])
    assert json.loads(result["content"]) == {"status": "shipped", "eta": "Friday"}
    assert api.requests == []


def test_fails_when_the_tool_is_not_called(tool_agent, fake_openai, api):
    fake_openai.script = tool_script(call=False)
    agent_test_case_create(
        agent=tool_agent,
        name="looks up",
        turns=[
            {
                "user": ASK,
                "expect": [
                    {"kind": "tool_called", "tool": "lookup_order"},
                    {"kind": "tool_not_called", "tool": "cancel_order"},
                ],
            }
        ],
        tool_mocks=MOCKS,
    )
    run = _run(tool_agent)
    assert run.status == "failed"
    called, not_called = run.results["cases"][0]["turns"][0]["expectations"]
    assert not called["passed"]
    assert called["detail"] == "lookup_order was not called (called: none)"
    assert not_called["passed"]
    assert api.requests == []


def test_fails_on_wrong_arguments(tool_agent, fake_openai, api):
    fake_openai.script = tool_script(order_id="99999")
    agent_test_case_create(
        agent=tool_agent,
        name="exact",
        turns=expect_lookup(arguments={"order_id": "12345"}),
        tool_mocks=MOCKS,
    )
    agent_test_case_create(
        agent=tool_agent,
        name="pattern",
        turns=expect_lookup(argument_patterns={"order_id": "^1"}),
        tool_mocks=MOCKS,
    )
    run = _run(tool_agent)
    assert run.status == "failed"
    by_name = {c["name"]: c for c in run.results["cases"]}
    for name in ("exact", "pattern"):
        check = by_name[name]["turns"][0]["expectations"][0]
        assert not check["passed"]
        assert check["detail"] == "lookup_order called, but order_id is '99999'"
        assert check["actual"] == [{"order_id": "99999"}]
    assert api.requests == []


def test_unmocked_and_error_mocks_are_tool_errors_without_a_request(tool_agent, fake_openai, api):
    fake_openai.script = tool_script()
    agent_test_case_create(agent=tool_agent, name="unmocked", turns=expect_lookup())
    agent_test_case_create(
        agent=tool_agent,
        name="down",
        turns=expect_lookup(),
        tool_mocks={"lookup_order": {"error": "the CRM is down"}},
    )
    run = _run(tool_agent)
    by_name = {c["name"]: c["turns"][0] for c in run.results["cases"]}
    [unmocked] = by_name["unmocked"]["tool_calls"]
    assert unmocked["status"] == "error"
    assert "not mocked in this test case" in unmocked["result"]
    [down] = by_name["down"]["tool_calls"]
    assert down["status"] == "error" and down["result"] == "the CRM is down"
    # the tool was called (its expectation passes), the spoken check fails
    for turn in by_name.values():
        assert turn["expectations"][0]["passed"]
        assert not turn["expectations"][1]["passed"]
    assert api.requests == []


def test_end_call_and_transfer_are_recorded_but_do_nothing(suite_agent, fake_openai):
    tools = [
        {"kind": "end_call", "name": "hang_up", "description": "End the call.", "goodbye": "Bye"},
        {
            "kind": "transfer_call",
            "name": "to_human",
            "description": "Transfer.",
            "phone_number": "+14155550100",
        },
    ]
    agent = agent_update_sections(
        agent=suite_agent, partial={"tools_config": {"tools": tools, "filler_after_seconds": None}}
    )
    replies = {"bye": "hang_up", "human": "to_human"}

    def script(body):
        last = body["messages"][-1]
        if last.get("role") == "tool":  # after the tool: speak its result
            return demo_turn(f"done: {last['content']}")
        return tool_call_reply(replies[last_user_message(body)])

    fake_openai.script = script
    agent_test_case_create(
        agent=agent,
        name="ends and transfers",
        turns=[
            {"user": "human", "expect": [{"kind": "tool_called", "tool": "to_human"}]},
            {"user": "bye", "expect": [{"kind": "tool_called", "tool": "hang_up"}]},
        ],
    )
    run = _run(agent)
    assert run.status == "passed", run.results
    first, second = run.results["cases"][0]["turns"]
    assert first["tool_calls"][0]["status"] == "ok"
    assert "would be transferred to +14155550100" in first["tool_calls"][0]["result"]
    assert second["tool_calls"][0]["result"] == "(test run) the call would end now."
    assert second["spoken_text"].startswith("done:")  # the conversation went on


def test_publish_gate_blocks_on_a_failing_tool_expectation(tool_agent, fake_openai, api):
    fake_openai.script = tool_script(order_id="99999")
    agent_test_case_create(
        agent=tool_agent,
        name="looks up",
        turns=expect_lookup(arguments={"order_id": "12345"}),
        tool_mocks=MOCKS,
    )
    gated = agent_test_gate_set(agent=tool_agent, required=True)
    assert _run(gated).status == "failed"
    with pytest.raises(AgentConflict) as exc:
        agent_publish(agent=gated)
    assert "looks up: turn 1: tool lookup_order called with order_id='12345'" in str(exc.value)
    fake_openai.script = tool_script()
    assert _run(gated).status == "passed"
    assert agent_publish(agent=gated).version == "1.0.0"
    assert api.requests == []


def test_changing_mocks_makes_the_suite_run_stale(tool_agent, fake_openai):
    fake_openai.script = tool_script()
    case = agent_test_case_create(
        agent=tool_agent, name="looks up", turns=expect_lookup(), tool_mocks=MOCKS
    )
    gated = agent_test_gate_set(agent=tool_agent, required=True)
    assert _run(gated).status == "passed"
    agent_test_case_update(
        case=case,
        name=case.name,
        turns=case.turns,
        tool_mocks={"lookup_order": {"error": "down"}},
    )
    with pytest.raises(AgentConflict, match="no suite run"):
        agent_publish(agent=gated)


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mocks", "path"),
    [
        ([], "tool_mocks"),
        ({"lookup_order": {}}, "tool_mocks.lookup_order"),
        ({"lookup_order": {"result": 1, "error": "x"}}, "tool_mocks.lookup_order"),
        ({"lookup_order": {"error": ""}}, "tool_mocks.lookup_order.error"),
        ({"lookup_order": {"result": 1, "delay": 2}}, "tool_mocks.lookup_order.delay"),
        ({"bad name!": {"result": 1}}, "tool_mocks.bad name!"),
        ({"big": {"result": "x" * 20_001}}, "tool_mocks.big.result"),
    ],
)
def test_bad_mocks_name_their_field(mocks, path):
    errors = case_errors({"tool_mocks": mocks})
    assert path in errors, errors


@pytest.mark.parametrize(
    ("expectation", "path"),
    [
        ({"kind": "tool_called"}, "turns[0].expect[0].tool_called.tool"),
        ({"kind": "tool_called", "tool": "a b"}, "turns[0].expect[0].tool_called.tool"),
        (
            {"kind": "tool_called", "tool": "t", "argument_patterns": {"x": "(a"}},
            "turns[0].expect[0].tool_called.argument_patterns",
        ),
        (
            {"kind": "tool_called", "tool": "t", "arguments": {"no-dash": 1}},
            "turns[0].expect[0].tool_called.arguments",
        ),
        ({"kind": "tool_called", "tool": "t", "times": 0}, "turns[0].expect[0].tool_called.times"),
        ({"kind": "tool_not_called", "tool": "t", "x": 1}, "turns[0].expect[0].tool_not_called.x"),
    ],
)
def test_bad_tool_expectations_name_their_field(expectation, path):
    errors = case_errors({"turns": [{"user": "hi", "expect": [expectation]}]})
    assert path in errors, errors


def test_service_refuses_bad_mocks(suite_agent):
    with pytest.raises(ContractError) as exc:
        agent_test_case_create(
            agent=suite_agent,
            name="x",
            turns=[{"user": "hi"}],
            tool_mocks={"t": {"result": 1, "error": "e"}},
        )
    assert "tool_mocks.t" in exc.value.errors


def test_pattern_matching_of_non_text_arguments():
    [turn] = parse_turns(
        [
            {
                "user": "hi",
                "expect": [
                    {"kind": "tool_called", "tool": "t", "argument_patterns": {"n": "^4\\d$"}},
                    {"kind": "tool_called", "tool": "t", "arguments": {"tags": ["a"]}},
                ],
            }
        ]
    )
    view = TurnView(
        data={}, spoken_text="", tool_calls=[{"name": "t", "arguments": {"n": 42, "tags": ["a"]}}]
    )
    assert [e.evaluate(view).passed for e in turn.expect] == [True, True]


# --- API and admin ------------------------------------------------------------------------


def test_api_field_level_400_and_round_trip(suite_agent, key_client):
    client = key_client(suite_agent.tenant, "developer")
    url = f"/api/v1/agents/config/{suite_agent.agent_id}/tests/cases"
    bad = client.post(
        url,
        {
            "name": "x",
            "turns": [{"user": "hi", "expect": [{"kind": "tool_called", "tool": "t", "times": 0}]}],
            "tool_mocks": {"t": {"error": ""}},
        },
        format="json",
    )
    assert bad.status_code == 400, bad.content
    body = json.dumps(bad.json())
    assert "tool_mocks.t.error" in body and "turns[0].expect[0].tool_called.times" in body
    good = client.post(
        url,
        {"name": "x", "turns": expect_lookup(), "tool_mocks": MOCKS},
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["tool_mocks"] == MOCKS


def test_admin_form_errors_and_tool_calls_in_the_results(
    admin_client, tool_agent, fake_openai, api
):
    add = reverse("admin:agents_config_agenttestcase_add")
    response = admin_client.post(
        add,
        {
            "agent": tool_agent.pk,
            "name": "x",
            "user_details": "{}",
            "overrides": "{}",
            "turns": json.dumps(expect_lookup()),
            "tool_mocks": json.dumps({"lookup_order": {"result": 1, "error": "e"}}),
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "tool_mocks" in errors and "tool_mocks.lookup_order" in errors["tool_mocks"][0]

    fake_openai.script = tool_script(order_id="99999")
    agent_test_case_create(
        agent=tool_agent,
        name="looks up",
        turns=expect_lookup(arguments={"order_id": "12345"}),
        tool_mocks=MOCKS,
    )
    run = _run(tool_agent)
    page = admin_client.get(reverse("admin:agents_config_agenttestrun_change", args=[run.pk]))
    html = page.content.decode()
    assert "<th>Tool calls</th>" in html
    assert "✘ tool lookup_order called with order_id=&#x27;12345&#x27;" in html
    assert "lookup_order({&quot;order_id&quot;: &quot;99999&quot;}) → ok" in html


def test_reply_with_a_tool_call_object_works_too(tool_agent, fake_openai, api):
    """``Reply(tool_calls=...)`` directly (what ``tool_call_reply`` builds)."""
    from tests.fakes.openai_server import ToolCall

    fake_openai.add(
        Reply("", tool_calls=(ToolCall("lookup_order", {"order_id": "12345"}),)),
        demo_turn("It has shipped."),
    )
    agent_test_case_create(agent=tool_agent, name="direct", turns=expect_lookup(), tool_mocks=MOCKS)
    assert _run(tool_agent).status == "passed"
    assert api.requests == []
