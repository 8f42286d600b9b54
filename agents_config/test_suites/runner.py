"""Runs agent test cases on the registered text-mode engine (``agents_config.hooks``; the
worker registers ``worker.textmode``) and reports.

A case runs against a published version or the draft with the same factory and agent class
as the worker; each turn's structured output is checked against its expectations, compared
with the recorded baseline (replayed sessions) and timed. Nothing here writes to the
database: ``test_suites.services.agent_test_run_execute`` records the results.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agents_config.contracts import AgentDocument, ContractError, parse_document
from agents_config.hooks import text_conversation
from agents_config.models import Agent
from agents_config.providers import ProviderKeys
from agents_config.selectors import (
    agent_draft_document,
    agent_version_by_label,
    content_checksum,
)
from agents_config.test_suites.expectations import (
    LLMJudge,
    Outcome,
    ScriptedTurn,
    ToolMock,
    TurnView,
    parse_tool_mocks,
    parse_turns,
)
from agents_config.test_suites.models import AgentTestCase
from agents_config.versioning import DRAFT
from tenants.platform import json_input

TURN_TIMEOUT_S = 120.0
JUDGE_SYSTEM_PROMPT = (
    "You are the judge of an automated test of a voice agent. Decide whether the agent's "
    "turn satisfies the intent. Answer with one JSON object only, no prose: "
    '{"pass": true or false, "reason": "one short sentence"}.'
)


@dataclass(frozen=True)
class Target:
    """What a run tests: a validated document, its label and its content checksum."""

    document: AgentDocument
    label: str
    checksum: str


@dataclass(frozen=True)
class CaseSpec:
    case_id: int | None
    name: str
    user_details: dict[str, Any]
    overrides: dict[str, Any]
    turns: list[ScriptedTurn]
    baseline: list[dict[str, Any]]
    tool_mocks: dict[str, ToolMock] = field(default_factory=dict)

    @classmethod
    def from_case(cls, case: AgentTestCase) -> CaseSpec:
        return cls(
            case_id=case.pk,
            name=case.name,
            user_details=dict(case.user_details or {}),
            overrides=dict(case.overrides or {}),
            turns=parse_turns(case.turns),
            baseline=list(case.baseline or []),
            tool_mocks=parse_tool_mocks(case.tool_mocks),
        )


def resolve_target(*, agent: Agent, version: str | None) -> Target:
    """The draft (``None`` or ``"draft"``) or a published version; ``ContractError`` else."""
    if not version or version == DRAFT:
        document = parse_document(agent_draft_document(agent))
        return Target(document, DRAFT, content_checksum(document.to_dict()))
    found = agent_version_by_label(agent=agent, version=version)
    if found is None:
        raise ContractError({"version": [f"{agent.agent_id} has no version {version!r}."]})
    return Target(parse_document(found.document), found.version, found.checksum)


def suite_checksum(cases: Iterable[AgentTestCase]) -> str:
    """SHA-256 over the cases' scripts, so a run is stale once any case changes."""
    content = sorted(
        # mocks only when set: the runs of cases without mocks stay current
        [c.name, c.user_details, c.overrides, c.turns, c.baseline or []]
        + ([c.tool_mocks] if c.tool_mocks else [])
        for c in cases
    )
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def provider_keys(agent: Agent) -> ProviderKeys:
    return ProviderKeys.for_tenant(agent.tenant_id)


# --- judging --------------------------------------------------------------------------------


class Judge:
    """Asks an OpenAI-compatible model (the agent's endpoint) whether a turn meets an intent.

    A custom ``llm_config.base_url`` is called through the outbound-URL policy, and with the
    platform's key only where ``platform_key_refusal`` allows (else ``ProviderConfigError``,
    before anything is sent).
    """

    def __init__(self, *, document: AgentDocument, keys: ProviderKeys) -> None:
        from agents_config.providers import ProviderConfigError
        from tenants.secrets import platform_key_refusal

        self.custom_base_url = document.llm_config.base_url
        self.base_url = self.custom_base_url or keys.openai_base_url or None
        self.default_model = document.llm_config.model
        self.api_key = keys.openai
        if self.custom_base_url and self.api_key and not keys.openai_own:
            refusal = platform_key_refusal(
                provider="openai", url=self.custom_base_url, field="llm_config.base_url"
            )
            if refusal is not None:
                raise ProviderConfigError(f"judge: {refusal}")

    def _client(self) -> Any:
        from openai import AsyncOpenAI

        from agents_config.providers import openai_client

        if self.custom_base_url:
            return openai_client(api_key=self.api_key, base_url=self.custom_base_url)
        return AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=1)

    async def complete_json(
        self, *, model: str, system: str, prompt: str, response_format: dict[str, Any]
    ) -> str:
        """One deterministic JSON completion (streamed, joined): the judge's verdict, the
        post-session analysis. Raises the client's error."""
        client = self._client()
        try:
            stream = await client.chat.completions.create(
                model=model,
                temperature=0,
                stream=True,
                response_format=response_format,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
            )
            parts = [
                chunk.choices[0].delta.content or ""
                async for chunk in stream
                if chunk.choices and chunk.choices[0].delta
            ]
        finally:
            await client.close()
        return "".join(parts)

    async def __call__(self, expectation: LLMJudge, *, user_text: str, turn: TurnView) -> Outcome:
        model = expectation.judge_model or self.default_model
        prompt = (
            f"Intent: {expectation.intent}\n"
            f"The user said: {user_text}\n"
            f"The agent said: {turn.spoken_text}\n"
            f"The agent's structured turn: {json.dumps(turn.data, ensure_ascii=False)}"
        )
        if not self.api_key:
            return Outcome(False, "judge unavailable: no OpenAI API key")
        try:
            text = await self.complete_json(
                model=model,
                system=JUDGE_SYSTEM_PROMPT,
                prompt=prompt,
                response_format={"type": "json_object"},
            )
        except Exception as exc:  # noqa: BLE001 - a judge failure fails the expectation
            return Outcome(False, f"judge {model} failed: {exc}")
        return _verdict(text, model)


def _verdict(text: str, model: str) -> Outcome:
    cleaned = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
    try:
        answer = json_input.loads(cleaned)
    except ValueError:  # not JSON, or past the JSON limits
        return Outcome(False, f"judge {model} did not answer JSON: {text[:200]!r}")
    if not isinstance(answer, dict) or not isinstance(answer.get("pass"), bool):
        return Outcome(False, f"judge {model} answered without a boolean 'pass': {text[:200]!r}")
    reason = str(answer.get("reason", ""))[:500]
    return Outcome(answer["pass"], f"judge {model}: {reason}", answer)


# --- running --------------------------------------------------------------------------------


def turn_changes(baseline: dict[str, Any] | None, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Field by field, what differs from the recorded turn (``before``/``after``)."""
    if not baseline:
        return []
    before = baseline.get("data") or {}
    changes = []
    # the new turn is in schema order; fields only the recording had come last
    for name in [*data, *(k for k in before if k not in data)]:
        old, new = before.get(name), data.get(name)
        if old != new:
            changes.append({"field": name, "before": old, "after": new})
    return changes


async def run_case(
    spec: CaseSpec, *, target: Target, keys: ProviderKeys, judge: Judge | None = None
) -> dict[str, Any]:
    """Run one case in a fresh text-mode conversation; returns its result (JSON-ready)."""
    judge = judge or Judge(document=target.document, keys=keys)
    started = time.perf_counter()
    turns: list[dict[str, Any]] = []
    async with text_conversation(
        document=target.document,
        version=target.label,
        keys=keys,
        user_details=spec.user_details,
        overrides=spec.overrides,
        tool_mocks=spec.tool_mocks,  # always set: a suite never calls a real system
    ) as conversation:
        for index, scripted in enumerate(spec.turns):
            mark = time.perf_counter()
            try:
                record = await asyncio.wait_for(
                    conversation.say(scripted.user), timeout=TURN_TIMEOUT_S
                )
            except TimeoutError:
                record = None
            duration_ms = round((time.perf_counter() - mark) * 1000, 2)
            if record is None:
                view = TurnView(data={}, spoken_text="", errors=["the agent did not answer"])
            else:
                view = TurnView(
                    data=record.data,
                    spoken_text=record.spoken_text,
                    errors=record.errors,
                    tool_calls=list(getattr(record, "tool_calls", None) or []),
                )
            checks = []
            for expectation in scripted.expect:
                if isinstance(expectation, LLMJudge):
                    outcome = await judge(expectation, user_text=scripted.user, turn=view)
                else:
                    outcome = expectation.evaluate(view)
                checks.append(
                    {
                        "kind": expectation.kind,
                        "description": expectation.describe(),
                        "expected": expectation.model_dump(mode="json"),
                        "passed": outcome.passed,
                        "detail": outcome.detail,
                        "actual": outcome.actual,
                    }
                )
            baseline = spec.baseline[index] if index < len(spec.baseline) else None
            turns.append(
                {
                    "index": index + 1,
                    "user": scripted.user,
                    "spoken_text": view.spoken_text,
                    "data": view.data,
                    "errors": view.errors,
                    "tool_calls": view.tool_calls,
                    "passed": record is not None and all(c["passed"] for c in checks),
                    "expectations": checks,
                    "changes": turn_changes(baseline, view.data),
                    "duration_ms": duration_ms,
                    "llm_ttft_ms": record.llm_ttft_ms if record else None,
                }
            )
    return {
        "case_id": spec.case_id,
        "name": spec.name,
        "status": "passed" if all(t["passed"] for t in turns) else "failed",
        "error": "",
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "turns": turns,
    }


def run_case_sync(spec: CaseSpec, *, target: Target, keys: ProviderKeys) -> dict[str, Any]:
    """``run_case`` in its own event loop; a configuration error becomes an errored case."""
    from agents_config.providers import ProviderConfigError

    try:
        return asyncio.run(run_case(spec, target=target, keys=keys))
    except (ProviderConfigError, ContractError) as exc:
        return {
            "case_id": spec.case_id,
            "name": spec.name,
            "status": "error",
            "error": str(exc),
            "duration_ms": 0.0,
            "turns": [],
        }


def summarize(cases: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "cases": len(cases),
        "passed": sum(c["status"] == "passed" for c in cases),
        "failed": sum(c["status"] == "failed" for c in cases),
        "errors": sum(c["status"] == "error" for c in cases),
    }


# --- reporting ------------------------------------------------------------------------------


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else int(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failing_cases(results: dict[str, Any]) -> list[str]:
    """One line per case that did not pass: its name and its first failure."""
    lines = []
    for case in results.get("cases", []):
        if case["status"] == "passed":
            continue
        reason = case.get("error") or ""
        for turn in case.get("turns", []):
            failed = [c for c in turn["expectations"] if not c["passed"]]
            if failed:
                reason = f"turn {turn['index']}: {failed[0]['description']} ({failed[0]['detail']})"
                break
            if not turn["passed"]:
                reason = f"turn {turn['index']}: {'; '.join(turn['errors'])}"
                break
        lines.append(f"{case['name']}: {reason}" if reason else case["name"])
    return lines


def format_report(results: dict[str, Any]) -> str:
    """A plain-text report: per case and turn, each expectation and every changed field."""
    lines = [f"Agent {results.get('agent_id', '')} @ {results.get('version', '')}"]
    for case in results.get("cases", []):
        lines.append("")
        lines.append(f"{case['status'].upper():7} {case['name']}  ({case['duration_ms']:.0f} ms)")
        if case.get("error"):
            lines.append(f"        error: {case['error']}")
        for turn in case.get("turns", []):
            mark = "ok " if turn["passed"] else "FAIL"
            lines.append(f"  {mark} turn {turn['index']} ({turn['duration_ms']:.0f} ms)")
            lines.append(f"       user:  {turn['user']}")
            lines.append(f"       agent: {turn['spoken_text']}")
            for error in turn["errors"]:
                lines.append(f"       error: {error}")
            for call in turn.get("tool_calls", []):
                lines.append(
                    f"       tool {call['name']}({_short(call['arguments'])}) -> "
                    f"{call['status']}: {_short(call['result'])}"
                )
            for check in turn["expectations"]:
                sign = "+" if check["passed"] else "-"
                lines.append(f"       {sign} {check['description']}: {check['detail']}")
            for change in turn["changes"]:
                lines.append(
                    f"       ~ {change['field']}: {_short(change['before'])} -> "
                    f"{_short(change['after'])}"
                )
    summary = results.get("summary") or summarize(results.get("cases", []))
    lines.append("")
    lines.append(
        f"{summary['cases']} case(s): {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['errors']} error(s)"
    )
    return "\n".join(lines)
