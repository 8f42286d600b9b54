"""Semantic version numbers for published agent versions."""

from __future__ import annotations

import re
from typing import Literal

BumpKind = Literal["major", "minor", "patch"]
_SEMVER = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")


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
