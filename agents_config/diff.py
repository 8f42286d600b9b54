"""Field-level differences between two configuration documents.

Schema fields are matched by ``field_name`` rather than list position, so reordering or
inserting a field reads as what it is instead of a cascade of changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from agents_config.selectors import NON_CONTENT_KEYS, document_schema_fields

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    path: str
    change: ChangeKind
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _keyed_fields(document: dict[str, Any]) -> dict[str, Any]:
    fields = document_schema_fields(document)
    return {f.get("field_name"): f for f in fields if isinstance(f, dict)}


def _walk(path: str, old: Any, new: Any, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            child = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(Change(child, "removed", old=old[key]))
            elif key not in old:
                out.append(Change(child, "added", new=new[key]))
            else:
                _walk(child, old[key], new[key], out)
    elif old != new:
        out.append(Change(path, "changed", old=old, new=new))


def document_diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Changes that turn ``old`` into ``new`` (label-only keys such as version ignored)."""
    changes: list[Change] = []
    strip = NON_CONTENT_KEYS
    old_body = {k: v for k, v in old.items() if k not in strip}
    new_body = {k: v for k, v in new.items() if k not in strip}
    old_fields, new_fields = _keyed_fields(old), _keyed_fields(new)
    for body in (old_body, new_body):
        if isinstance(body.get("schema_config"), dict):
            body["schema_config"] = {
                k: v for k, v in body["schema_config"].items() if k != "fields"
            }
    _walk("", old_body, new_body, changes)
    _walk("schema_config.fields", old_fields, new_fields, changes)
    old_order = [name for name in old_fields if name in new_fields]
    new_order = [name for name in new_fields if name in old_fields]
    if old_order != new_order:
        changes.append(Change("schema_config.fields.order", "changed", old_order, new_order))
    return changes
