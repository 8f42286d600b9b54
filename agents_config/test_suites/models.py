"""Test suites: scripted conversations with expectations (``test_suites.expectations``) and
their runs. App label ``agents_config`` and the original tables: moving the classes here
changed no migration."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from agents_config.models import Agent


class AgentTestCase(models.Model):
    """A scripted conversation: user turns, each with expectations on the agent's turn."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="test_cases")
    name = models.CharField(max_length=100)
    user_details = models.JSONField(default=dict, blank=True)
    overrides = models.JSONField(default=dict, blank=True)
    turns = models.JSONField(
        default=list, help_text='[{"user": "...", "expect": [{"kind": "equals", ...}]}]'
    )
    tool_mocks = models.JSONField(
        default=dict,
        blank=True,
        help_text='What tools answer during a run, by tool name: {"lookup_order": {"result": '
        '{...}}} or {"error": "..."}. A suite run never calls a real system.',
    )
    baseline = models.JSONField(
        default=list,
        blank=True,
        help_text="Recorded structured turns (replay): each run shows what changed.",
    )
    source_session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "agents_config"
        ordering = ["agent", "name"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "name"], name="unique_test_case_per_agent")
        ]

    def __str__(self) -> str:
        return f"{self.agent.agent_id}: {self.name}"


class SuiteRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"


class AgentTestRun(models.Model):
    """One run of a case (or of the whole suite when ``case`` is null) against a version."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="test_runs")
    case = models.ForeignKey(
        AgentTestCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    version_label = models.CharField(max_length=20, help_text='A version number or "draft".')
    checksum = models.CharField(
        max_length=64, blank=True, help_text="Content checksum of the document tested."
    )
    suite_checksum = models.CharField(
        max_length=64, blank=True, help_text="Checksum of the cases as they were run."
    )
    status = models.CharField(
        max_length=10, choices=SuiteRunStatus.choices, default=SuiteRunStatus.QUEUED
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    triggered_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "agents_config"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["agent", "checksum", "status"])]

    def __str__(self) -> str:
        target = self.case.name if self.case_id and self.case else "suite"
        return f"{self.agent.agent_id} {target} @{self.version_label} ({self.status})"
