"""Static files: WhiteNoise's compressed, hashed manifest, tolerant of absent source maps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage

_SOURCE_MAP = re.compile(r"sourceMappingURL=")


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """A vendored bundle (the playground's livekit-client) may name a ``.map`` file that is
    not shipped; the comment is then left as it is instead of failing collectstatic."""

    def url_converter(
        self, name: str, hashed_files: dict[str, Any], template: str | None = None
    ) -> Callable[[re.Match[str]], str]:
        convert = super().url_converter(name, hashed_files, template)

        def tolerant(match: re.Match[str]) -> str:
            try:
                return convert(match)
            except ValueError:
                if _SOURCE_MAP.search(match.group("matched")):
                    return match.group("matched")
                raise

        return tolerant
