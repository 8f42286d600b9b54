"""Version experiments: an agent serves several published versions by weight (e.g. 90/10).

Assignment is sticky per end user: ``sha256("<agent pk>:<user_id>")`` picks a bucket in
0..9999 and the weights, in version order, split that range. The same user always gets the
same version while the weights stay the same; the session pins the version it got.
``experiment_promote`` makes one version live at 100 % (the agent's published version) and
ends the experiment. Every change is audited.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction

from agents_config.contracts import ContractError
from agents_config.models import Agent, AgentVersion, VersionExperiment
from agents_config.versioning import parse_semver
from tenants.actors import Actor
from tenants.services import audit_record

BUCKETS = 10_000
MAX_ARMS = 10


def _ordered(weights: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(weights.items(), key=lambda item: parse_semver(item[0]))


def assign_version(*, agent_pk: int, user_id: str, weights: dict[str, int]) -> str:
    """The version label this user gets under ``weights`` (deterministic)."""
    digest = hashlib.sha256(f"{agent_pk}:{user_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % BUCKETS
    edge = 0
    ordered = _ordered(weights)
    for label, weight in ordered:
        edge += weight * BUCKETS // 100
        if bucket < edge:
            return label
    return ordered[-1][0]


def experiment_version_for(*, agent: Agent, user_id: str) -> AgentVersion | None:
    """The version a new session of ``user_id`` runs, or None without an experiment."""
    experiment = VersionExperiment.objects.filter(agent=agent).first()
    if experiment is None or not experiment.weights:
        return None
    label = assign_version(agent_pk=agent.pk, user_id=user_id, weights=experiment.weights)
    return AgentVersion.objects.filter(agent=agent, version=label).first()


def _check_weights(agent: Agent, weights: Any) -> dict[str, int]:
    if not isinstance(weights, dict) or not weights:
        raise ContractError({"weights": ["Expected an object of version -> weight."]})
    if len(weights) > MAX_ARMS:
        raise ContractError({"weights": [f"At most {MAX_ARMS} versions."]})
    errors: dict[str, list[str]] = {}
    known = set(AgentVersion.objects.filter(agent=agent).values_list("version", flat=True))
    for label, weight in weights.items():
        if label not in known:
            errors[f"weights.{label}"] = ["Not a published version of this agent."]
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight <= 100:
            errors[f"weights.{label}"] = ["A whole number from 1 to 100."]
    if not errors and sum(weights.values()) != 100:
        errors["weights"] = [
            f"Weights must add up to 100 (they add up to {sum(weights.values())})."
        ]
    if errors:
        raise ContractError(errors)
    return {label: weights[label] for label, _ in _ordered(weights)}


def experiment_set(
    *,
    agent: Agent,
    weights: Any,
    actor: Actor | None = None,
) -> VersionExperiment:
    """Start or change the agent's split (validated: published versions, sum 100)."""
    checked = _check_weights(agent, weights)
    with transaction.atomic():
        experiment, _ = VersionExperiment.objects.update_or_create(
            agent=agent, defaults={"weights": checked}
        )
        audit_record(
            tenant=agent.tenant,
            action="agent.experiment_set",
            target=agent.agent_id,
            actor=actor,
            details={"weights": checked},
        )
    return experiment


def experiment_promote(
    *,
    agent: Agent,
    version: str,
    actor: Actor | None = None,
) -> AgentVersion:
    """Make ``version`` live at 100 % and end the experiment."""
    target = AgentVersion.objects.filter(agent=agent, version=version).first()
    if target is None:
        raise ContractError({"version": ["Not a published version of this agent."]})
    with transaction.atomic():
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
        previous = locked.published_version.version if locked.published_version else None
        locked.published_version = target
        locked.save(update_fields=["published_version", "updated_at"])
        VersionExperiment.objects.filter(agent=locked).delete()
        audit_record(
            tenant=locked.tenant,
            action="agent.experiment_promoted",
            target=locked.agent_id,
            actor=actor,
            details={"version": target.version, "previous_live_version": previous},
        )
    agent.published_version = target
    return target


def experiment_weights(*, agent: Agent) -> dict[str, int]:
    """The split in force: the experiment's, else the live version at 100 %."""
    experiment = VersionExperiment.objects.filter(agent=agent).first()
    if experiment is not None and experiment.weights:
        return dict(experiment.weights)
    return {agent.published_version.version: 100} if agent.published_version else {}
