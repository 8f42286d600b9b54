"""Agent templates: configuration documents an admin or tenant starts a new agent from.

A template is a JSON file ``{"template_id", "title", "description", "document"}`` whose
``document`` is an agent configuration without ``agent_id``. The built-in ones sit next to
this module (one per seed agent type: interview, sales, support, generic); a deployment adds
its own with the ``AGENT_TEMPLATE_DIRS`` setting (a later file with the same ``template_id``
replaces an earlier one). Every template is validated by the contracts when first loaded and
by the ``agents_config.E001`` system check, so a broken template fails ``manage.py check`` and
start-up instead of the first tenant who picks it. (The folder is not called ``templates/``
so that Django's template loader never mistakes it for HTML templates.)
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from agents_config.contracts import SLUG_PATTERN, ContractError, parse_document

BUILTIN_DIR = Path(__file__).resolve().parent
TEMPLATE_KEYS = frozenset({"template_id", "title", "description", "document"})
# Keys a template cannot fix: they belong to the agent made from it.
PER_AGENT_KEYS = frozenset({"agent_id", "version", "created_at", "updated_at", "tenant_config"})


class TemplateInvalid(ImproperlyConfigured):
    """A template file cannot be read or does not validate; names the file and the fields."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"agent template {source}: {'; '.join(problems)}")


@dataclass(frozen=True)
class AgentTemplate:
    template_id: str
    title: str
    description: str
    document: dict[str, Any]
    """The validated document in canonical form, without ``agent_id``."""
    source: str

    @property
    def agent_type(self) -> str:
        return str(self.document.get("agent_type", "generic"))

    def new_document(
        self, *, agent_id: str, name: str | None = None, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A fresh document for a new agent: the template, then ``overrides`` deep-merged
        (objects merge, lists replace), then ``agent_id`` and ``name``. Not validated here:
        the create service validates it like any other document."""
        from agents_config.services import deep_merge

        document = deep_merge(copy.deepcopy(self.document), dict(overrides or {}))
        document["agent_id"] = agent_id
        if name:
            document["name"] = name
        return document


def _read(path: Path) -> AgentTemplate:
    source = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TemplateInvalid(source, [f"cannot read JSON ({exc})"]) from None
    if not isinstance(raw, dict):
        raise TemplateInvalid(source, ["expected a JSON object"])
    problems = [f"unknown key {key!r}" for key in sorted(set(raw) - TEMPLATE_KEYS)]
    template_id = raw.get("template_id")
    if not isinstance(template_id, str) or not _slug(template_id):
        problems.append("template_id must be a slug (lowercase letters, digits, - and _)")
    for key in ("title", "description"):
        if not isinstance(raw.get(key, ""), str):
            problems.append(f"{key} must be a string")
    document = raw.get("document")
    if not isinstance(document, dict):
        problems.append("document must be a JSON object (an agent configuration)")
    else:
        fixed = sorted(PER_AGENT_KEYS & set(document))
        if fixed:
            problems.append(f"document may not set {', '.join(fixed)} (they are per agent)")
    if problems:
        raise TemplateInvalid(source, problems)
    assert isinstance(document, dict) and isinstance(template_id, str)
    try:
        parsed = parse_document({**document, "agent_id": template_id})
    except ContractError as exc:
        raise TemplateInvalid(
            source, [f"document.{path}: {' '.join(msgs)}" for path, msgs in exc.errors.items()]
        ) from None
    canonical = parsed.to_dict()
    for key in PER_AGENT_KEYS:
        canonical.pop(key, None)
    return AgentTemplate(
        template_id=template_id,
        title=raw.get("title") or template_id,
        description=raw.get("description", ""),
        document=canonical,
        source=source,
    )


def _slug(value: str) -> bool:
    return re.match(SLUG_PATTERN, value) is not None


def template_dirs() -> list[Path]:
    """The built-in folder, then ``settings.AGENT_TEMPLATE_DIRS`` in order."""
    extra = getattr(settings, "AGENT_TEMPLATE_DIRS", []) or []
    return [BUILTIN_DIR, *(Path(d) for d in extra)]


def load_templates(dirs: list[Path]) -> tuple[dict[str, AgentTemplate], list[TemplateInvalid]]:
    """Every ``*.json`` template in ``dirs`` (sorted by file name per folder) and the errors."""
    templates: dict[str, AgentTemplate] = {}
    errors: list[TemplateInvalid] = []
    for folder in dirs:
        if not folder.is_dir():
            errors.append(TemplateInvalid(str(folder), ["not a directory (AGENT_TEMPLATE_DIRS)"]))
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                template = _read(path)
            except TemplateInvalid as exc:
                errors.append(exc)
            else:
                templates[template.template_id] = template
    return templates, errors


@lru_cache(maxsize=8)
def _cached(dirs: tuple[str, ...]) -> dict[str, AgentTemplate]:
    templates, errors = load_templates([Path(d) for d in dirs])
    if errors:
        raise errors[0]
    return templates


def agent_templates() -> dict[str, AgentTemplate]:
    """The templates by id (loaded once per process and folder list); a broken one raises
    :class:`TemplateInvalid`."""
    return _cached(tuple(str(d) for d in template_dirs()))


def agent_template(template_id: str) -> AgentTemplate | None:
    return agent_templates().get(template_id)
