"""System checks: configuration data shipped as files must be valid before anyone uses it."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register()
def check_agent_templates(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every agent template (built-in and ``AGENT_TEMPLATE_DIRS``) validates (E001)."""
    from agents_config.agent_templates import load_templates, template_dirs

    _, errors = load_templates(template_dirs())
    return [
        checks.Error(
            "; ".join(error.problems),
            hint="Fix the template file or remove it from AGENT_TEMPLATE_DIRS.",
            obj=error.source,
            id="agents_config.E001",
        )
        for error in errors
    ]
