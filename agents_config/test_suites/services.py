"""Writes for agent test suites: cases, runs, the publish gate, replay of a session.

Like every service, each records its audit event; the runner (``test_suites.runner``) only
computes results, these store them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from agents_config.contracts import ContractError
from agents_config.models import Agent
from agents_config.services.common import AgentConflict, _locked
from agents_config.test_suites.expectations import parse_tool_mocks, parse_turns
from agents_config.test_suites.models import AgentTestCase, AgentTestRun, SuiteRunStatus
from tenants.actors import Actor, actor_or_system
from tenants.services import audit_record


def test_case_errors(fields: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field path -> messages for a test case's fields (only the keys given are checked): the
    one validation the service, the API and the admin form apply."""
    errors: dict[str, list[str]] = {}
    if "name" in fields:
        name = fields["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            errors["name"] = ["A name of 1 to 100 characters is required."]
    for key in ("user_details", "overrides"):
        if key in fields and not isinstance(fields[key], dict):
            errors[key] = ["Expected a JSON object."]
    if "baseline" in fields and not isinstance(fields["baseline"], list):
        errors["baseline"] = ["Expected a list of recorded turns."]
    if "turns" in fields:
        try:
            parse_turns(fields["turns"])
        except ContractError as exc:
            errors.update(exc.errors)
    if "tool_mocks" in fields:
        try:
            parse_tool_mocks(fields["tool_mocks"])
        except ContractError as exc:
            errors.update(exc.errors)
    return errors


def test_case_check(
    *,
    name: Any,
    user_details: Any,
    overrides: Any,
    turns: Any,
    baseline: Any = None,
    tool_mocks: Any = None,
) -> None:
    """THE validation of a test case's fields (API, admin form, replay): ``ContractError``
    naming each bad field (turn errors by their path, e.g. ``turns[0].expect[0].kind``,
    mock errors like ``tool_mocks.lookup_order.error``)."""
    fields = {
        "name": name,
        "user_details": user_details,
        "overrides": overrides,
        "turns": turns,
        "baseline": [] if baseline is None else baseline,
        "tool_mocks": {} if tool_mocks is None else tool_mocks,
    }
    if errors := test_case_errors(fields):
        raise ContractError(errors)


@transaction.atomic
def agent_test_case_create(
    *,
    agent: Agent,
    name: str,
    turns: Any,
    user_details: Any = None,
    overrides: Any = None,
    baseline: Any = None,
    source_session: Any = None,
    tool_mocks: Any = None,
    actor: Actor | None = None,
) -> AgentTestCase:
    """Store a validated test case; ``ContractError`` if invalid, ``AgentConflict`` if the
    agent already has a case of that name."""
    baseline = [] if baseline is None else baseline
    tool_mocks = {} if tool_mocks is None else tool_mocks
    name, user_details, overrides = _checked_case(
        AgentTestCase(agent=agent, baseline=baseline),
        name,
        user_details,
        overrides,
        turns,
        tool_mocks,
    )
    case = AgentTestCase.objects.create(
        agent=agent,
        name=name,
        user_details=user_details,
        overrides=overrides,
        turns=turns,
        tool_mocks=tool_mocks,
        baseline=baseline,
        source_session=source_session,
    )
    _audit_case(case, "agent.test_case_created", actor)
    return case


def _checked_case(
    case: AgentTestCase,
    name: Any,
    user_details: Any,
    overrides: Any,
    turns: Any,
    tool_mocks: Any,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The validated name, user details and overrides for ``case`` (new or stored)."""
    user_details = {} if user_details is None else user_details
    overrides = {} if overrides is None else overrides
    test_case_check(
        name=name,
        user_details=user_details,
        overrides=overrides,
        turns=turns,
        baseline=case.baseline or [],
        tool_mocks=tool_mocks,
    )
    name = name.strip()
    taken = AgentTestCase.objects.filter(agent=case.agent, name=name).exclude(pk=case.pk)
    if taken.exists():
        raise AgentConflict(f"{case.agent.agent_id} already has a test case named {name!r}.")
    return name, user_details, overrides


def _audit_case(case: AgentTestCase, action: str, actor: Actor | None) -> None:
    audit_record(
        tenant=case.agent.tenant,
        action=action,
        target=case.agent.agent_id,
        details={"case": case.name},
        actor=actor,
    )


@transaction.atomic
def agent_test_case_update(
    *,
    case: AgentTestCase,
    name: str,
    turns: Any,
    user_details: Any = None,
    overrides: Any = None,
    tool_mocks: Any = None,
    actor: Actor | None = None,
) -> AgentTestCase:
    """Replace a case's script (validated like :func:`agent_test_case_create`); audited.
    ``tool_mocks`` None keeps the stored mocks."""
    tool_mocks = case.tool_mocks if tool_mocks is None else tool_mocks
    name, user_details, overrides = _checked_case(
        case, name, user_details, overrides, turns, tool_mocks
    )
    case.name, case.turns, case.tool_mocks = name, turns, tool_mocks
    case.user_details, case.overrides = user_details, overrides
    case.save()
    _audit_case(case, "agent.test_case_updated", actor)
    return case


@transaction.atomic
def agent_test_case_delete(*, case: AgentTestCase, actor: Actor | None = None) -> None:
    _audit_case(case, "agent.test_case_deleted", actor)
    case.delete()


@transaction.atomic
def agent_test_run_start(
    *,
    agent: Agent,
    version: str | None = None,
    case_name: str | None = None,
    actor: Actor | None = None,
    triggered_by: str = "",
    enqueue: bool = True,
) -> AgentTestRun:
    """Create a queued run of one case (``case_name``) or the whole suite against ``version``
    (a published version number, or the draft when empty / ``"draft"``) and enqueue its
    Celery task after commit. ``ContractError`` for an unknown version or case,
    ``AgentConflict`` when the agent has no test cases."""
    from agents_config.test_suites.runner import resolve_target

    target = resolve_target(agent=agent, version=version)
    cases = AgentTestCase.objects.filter(agent=agent)
    case = None
    if case_name:
        case = cases.filter(name=case_name).first()
        if case is None:
            raise ContractError({"case": [f"{agent.agent_id} has no test case {case_name!r}."]})
        cases = cases.filter(pk=case.pk)
    elif not cases.exists():
        raise AgentConflict(f"{agent.agent_id} has no test cases.")
    run = AgentTestRun.objects.create(
        agent=agent,
        case=case,
        version_label=target.label,
        checksum=target.checksum,
        progress_total=cases.count(),
        triggered_by=triggered_by or actor_or_system(actor).label,
    )
    audit_record(
        tenant=agent.tenant,
        action="agent.test_run_started",
        target=agent.agent_id,
        details={"run": run.pk, "version": target.label, "case": case_name or ""},
        actor=actor,
    )
    if enqueue:
        from agents_config.test_suites.tasks import run_agent_test_run

        # No limits in the message: the worker's own TEST_RUN_*TIME_LIMIT settings apply.
        transaction.on_commit(
            lambda: run_agent_test_run.apply_async((run.pk,), soft_time_limit=None, time_limit=None)
        )
    return run


def agent_test_run_execute(*, run: AgentTestRun, on_progress: Any = None) -> AgentTestRun:
    """Claim a queued run, execute its cases one by one (progress saved after each) and
    record the results; the run ends passed, failed or error. Not atomic: a run takes
    minutes and its progress must be visible while it runs.

    ``on_progress(done, total, case_result)`` is called after each case (the CLI's bar).
    """
    import logging

    from django.utils import timezone

    from agents_config.test_suites.runner import (
        CaseSpec,
        provider_keys,
        resolve_target,
        run_case_sync,
        suite_checksum,
        summarize,
    )

    claimed = AgentTestRun.objects.filter(pk=run.pk, status=SuiteRunStatus.QUEUED).update(
        status=SuiteRunStatus.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:
        return run
    agent = Agent.objects.select_related("tenant").get(pk=run.agent_id)
    cases = list(AgentTestCase.objects.filter(agent=agent))
    if run.case_id is not None:
        cases = [c for c in cases if c.pk == run.case_id]
    results: dict[str, Any] = {"agent_id": agent.agent_id, "version": run.version_label}
    try:
        target = resolve_target(agent=agent, version=run.version_label)
        specs = [CaseSpec.from_case(c) for c in cases]
        keys = provider_keys(agent)
    except ContractError as exc:
        run.status, run.error = SuiteRunStatus.ERROR, str(exc)
        run.finished_at = timezone.now()
        run.results = {**results, "cases": [], "summary": summarize([])}
        run.save()
        return run
    run.checksum = target.checksum
    run.suite_checksum = suite_checksum(cases)
    run.progress_total = len(specs)
    run.save(update_fields=["checksum", "suite_checksum", "progress_total"])
    outcomes: list[dict[str, Any]] = []
    for spec in specs:
        try:
            outcome = run_case_sync(spec, target=target, keys=keys)
        except SoftTimeLimitExceeded:
            raise  # the whole run is out of time: the task records it (agent_test_run_stop)
        except Exception as exc:  # one broken case must not lose the others
            logging.getLogger(__name__).exception("test case %s failed to run", spec.name)
            outcome = {
                "case_id": spec.case_id,
                "name": spec.name,
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}",
                "duration_ms": 0.0,
                "turns": [],
            }
        outcomes.append(outcome)
        run.progress_done = len(outcomes)
        run.results = {**results, "cases": outcomes, "summary": summarize(outcomes)}
        run.save(update_fields=["progress_done", "results"])
        if on_progress is not None:
            on_progress(len(outcomes), len(specs), outcome)
    summary = summarize(outcomes)
    if summary["errors"]:
        run.status = SuiteRunStatus.ERROR
        run.error = "; ".join(f"{c['name']}: {c['error']}" for c in outcomes if c["error"])
    elif summary["failed"]:
        run.status = SuiteRunStatus.FAILED
    else:
        run.status = SuiteRunStatus.PASSED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def agent_test_run_stop(*, run_id: int, reason: str) -> AgentTestRun | None:
    """End a run that is still queued or running as ``error`` with ``reason`` (its time limit
    ran out), keeping the cases already recorded; a run already finished is left alone."""
    from django.utils import timezone

    AgentTestRun.objects.filter(
        pk=run_id, status__in=[SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING]
    ).update(status=SuiteRunStatus.ERROR, error=reason, finished_at=timezone.now())
    return AgentTestRun.objects.filter(pk=run_id).first()


def agent_test_gate_check(*, agent: Agent) -> None:
    """The publish gate: the latest whole-suite run on the exact draft content (same
    document checksum, same cases) must have passed. ``AgentConflict`` lists what failed."""
    from agents_config.selectors import draft_checksum
    from agents_config.test_suites.runner import failing_cases, suite_checksum

    cases = list(AgentTestCase.objects.filter(agent=agent))
    if not cases:
        raise AgentConflict(f"{agent.agent_id} requires passing tests but has no test cases.")
    run = (
        AgentTestRun.objects.filter(
            agent=agent,
            case__isnull=True,
            checksum=draft_checksum(agent),
            suite_checksum=suite_checksum(cases),
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if run is None:
        raise AgentConflict(
            f"{agent.agent_id} requires passing tests: no suite run for the current draft and "
            "cases; run the tests against the draft first."
        )
    if run.status in (SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING):
        raise AgentConflict(f"{agent.agent_id}: test run {run.pk} is still {run.status}.")
    if run.status != SuiteRunStatus.PASSED:
        failures = failing_cases(run.results) or [run.error or run.status]
        raise AgentConflict(
            f"{agent.agent_id} requires passing tests; run {run.pk} failed: " + " | ".join(failures)
        )


@transaction.atomic
def agent_test_gate_set(
    *,
    agent: Agent,
    required: bool,
    actor: Actor | None = None,
) -> Agent:
    """Switch the publish gate (not part of the versioned document)."""
    locked = _locked(agent)
    if locked.require_passing_tests != required:
        locked.require_passing_tests = required
        locked.save(update_fields=["require_passing_tests", "updated_at"])
        audit_record(
            tenant=locked.tenant,
            action="agent.test_gate_set",
            target=locked.agent_id,
            details={"required": required},
            actor=actor,
        )
    agent.refresh_from_db()
    return locked


@transaction.atomic
def session_to_test_case(
    *,
    session: Any,
    name: str | None = None,
    actor: Actor | None = None,
) -> AgentTestCase:
    """A replay case from a recorded session: its user turns become the script (each
    expecting a valid turn when the recorded one was valid), its structured turns the
    baseline that later runs are compared with field by field."""
    if session.agent_id is None:
        raise AgentConflict("The session's agent no longer exists.")
    recorded = [t for t in session.turns.order_by("index") if t.user_text.strip()]
    if not recorded:
        raise AgentConflict("The session has no user turns to replay.")
    turns = [
        {
            "user": t.user_text,
            "expect": ([] if t.validation_errors else [{"kind": "valid"}])
            + _replayed_tool_expectations(t.tool_calls or []),
        }
        for t in recorded
    ]
    baseline = [
        {
            "index": t.index,
            "version": t.version_label,
            "user": t.user_text,
            "spoken_text": t.spoken_text,
            "data": t.structured_output,
            "errors": t.validation_errors,
        }
        for t in recorded
    ]
    tool_mocks = _replayed_tool_mocks([c for t in recorded for c in t.tool_calls or []])
    base = name or f"replay {session.created_at:%Y-%m-%d %H:%M} {str(session.pk)[:8]}"
    unique, suffix = base[:100], 2
    while AgentTestCase.objects.filter(agent_id=session.agent_id, name=unique).exists():
        unique = f"{base[:95]} ({suffix})"
        suffix += 1
    return agent_test_case_create(
        agent=session.agent,
        name=unique,
        turns=turns,
        user_details=session.user_details or {},
        overrides=session.overrides or {},
        baseline=baseline,
        source_session=session,
        tool_mocks=tool_mocks,
        actor=actor,
    )


REPLAYED_TOOL_KINDS = ("http", "end_call", "transfer_call")
"""Recorded calls a replay mocks and expects (MCP tools are not offered in suite runs)."""


def _replayed_tool_expectations(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded turn's tool calls, each expected again with the same arguments."""
    expect = []
    for call in calls:
        if call.get("kind") not in REPLAYED_TOOL_KINDS or not call.get("name"):
            continue
        item: dict[str, Any] = {"kind": "tool_called", "tool": call["name"]}
        arguments = call.get("arguments")
        if isinstance(arguments, dict) and arguments:
            item["arguments"] = arguments
        if item not in expect:
            expect.append(item)
    return expect


def _replayed_tool_mocks(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """What each tool answered in the session (its first call), as the case's mocks: a
    replay never calls the real systems again."""
    from tenants.platform import json_input

    mocks: dict[str, Any] = {}
    for call in calls:
        name = call.get("name")
        if call.get("kind") not in REPLAYED_TOOL_KINDS or not name or name in mocks:
            continue
        result = str(call.get("result") or "")
        if call.get("status") != "ok":
            mocks[name] = {"error": result or f"{name} failed"}
            continue
        try:
            mocks[name] = {"result": json_input.loads(result)}
        except ValueError:  # text, or truncated JSON
            mocks[name] = {"result": result}
    return mocks
