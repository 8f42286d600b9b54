"""``manage.py test_agent AGENT_ID``: run an agent's test suite in text mode and report."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from agents_config.contracts import ContractError
from agents_config.management.agent_command import AgentCommand
from agents_config.services import AgentConflict
from agents_config.test_suites.models import AgentTestRun, SuiteRunStatus
from agents_config.test_suites.runner import format_report, progress_bar
from agents_config.test_suites.services import agent_test_run_execute, agent_test_run_start
from tenants.actors import Actor


class Command(AgentCommand):
    help = (
        "Run an agent's test cases through the worker's text mode and print a report. "
        "Default: the draft; --version for a published version. Exits 1 when a case fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("agent_id")
        parser.add_argument("--tenant", help="Tenant slug (required if the agent_id is ambiguous).")
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--version", dest="agent_version", help="A published version, e.g. 1.2.0."
        )
        group.add_argument("--draft", action="store_true", help="Test the draft (the default).")
        parser.add_argument("--case", help="Run only the case with this name.")

    def handle(self, *args: Any, **options: Any) -> None:
        agent = self._agent(options["agent_id"], options["tenant"])
        try:
            run = agent_test_run_start(
                agent=agent,
                version=options["agent_version"] or None,
                case_name=options["case"],
                actor=Actor.command("test_agent"),
                enqueue=False,
            )
        except (ContractError, AgentConflict) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Testing {agent.agent_id}@{run.version_label} (tenant {agent.tenant.slug}), "
            f"run {run.pk}: {run.progress_total} case(s)"
        )
        self.stdout.write(progress_bar(0, run.progress_total))

        def on_progress(done: int, total: int, case: dict[str, Any]) -> None:
            # One line per step: readable in logs and CI, no TTY control codes.
            self.stdout.write(
                f"{progress_bar(done, total)} {case['status'].upper()} {case['name']}"
            )

        run = agent_test_run_execute(run=run, on_progress=on_progress)
        self.stdout.write("")
        self.stdout.write(format_report(run.results))
        if run.status != SuiteRunStatus.PASSED:
            raise CommandError(self._verdict(run), returncode=1)
        self.stdout.write(f"Run {run.pk} passed.")

    @staticmethod
    def _verdict(run: AgentTestRun) -> str:
        if run.status == SuiteRunStatus.ERROR and run.error:
            return f"Run {run.pk} {run.status}: {run.error}"
        return f"Run {run.pk} {run.status}."
