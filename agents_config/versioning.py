"""Semantic version numbers for published agent versions."""

from __future__ import annotations

import re
from typing import Literal

BumpKind = Literal["major", "minor", "patch"]
SEMVER_PATTERN = r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$"
"""THE version number format (contracts, API parameters and bodies import it)."""
DRAFT = "draft"
"""The label of the unpublished draft wherever a version label is accepted."""
VERSION_OR_DRAFT_PATTERN = rf"^(?:{SEMVER_PATTERN.strip('^$')}|{DRAFT})$"
_SEMVER = re.compile(SEMVER_PATTERN)


def parse_semver(text: str) -> tuple[int, int, int]:
    match = _SEMVER.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a version of the form MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def bump(current: tuple[int, int, int] | None, kind: BumpKind) -> tuple[int, int, int]:
    if current is None:
        return (1, 0, 0)
    major, minor, patch = current
    if kind == "major":
        return (major + 1, 0, 0)
    if kind == "minor":
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


def format_semver(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)
