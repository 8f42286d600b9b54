"""Process-wide cache of compiled schemas.

Compiling builds a pydantic model and several TypeAdapters (milliseconds), so workers keep
compiled schemas keyed by ``(schema_id, content checksum, instructions timing)``: editing a
schema changes the checksum and therefore the key, and stale entries age out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from .spec import CompiledSchema, FieldSpec, InstructionsTiming, compile_schema, fields_checksum

_Key = tuple[str, str, str, bool]


@dataclass(frozen=True)
class RegistryStats:
    hits: int
    misses: int
    builds: int


class _Build:
    """A compilation in progress; other threads asking for the same key wait on it."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: CompiledSchema | None = None
        self.error: BaseException | None = None


class SchemaRegistry:
    """Bounded, thread-safe LRU of :class:`CompiledSchema`.

    The lock only guards dictionary bookkeeping; compilation runs outside it, and concurrent
    requests for a key being compiled wait for that single build instead of starting their
    own. Nothing here awaits, so it is safe to call from asyncio code (a call only blocks if
    another *thread* is compiling the same key). Failed compilations are not cached.
    """

    def __init__(self, max_size: int = 256) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._lock = threading.Lock()
        self._cache: OrderedDict[_Key, CompiledSchema] = OrderedDict()
        self._building: dict[_Key, _Build] = {}
        self._hits = self._misses = self._builds = 0

    def get_or_compile(
        self,
        schema_id: str,
        fields: Sequence[FieldSpec],
        instructions_timing: InstructionsTiming = "this_turn",
        *,
        speech: bool = True,
    ) -> CompiledSchema:
        """The compiled schema for these fields; raises ``SchemaDefinitionError`` if invalid.
        ``speech=False``: nothing is spoken (tool arguments, analysis outcomes)."""
        fields = tuple(fields)
        key = (schema_id, fields_checksum(fields), instructions_timing, speech)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self._hits += 1
                return cached
            self._misses += 1
            build = self._building.get(key)
            owner = build is None
            if build is None:
                build = self._building[key] = _Build()
        if not owner:
            build.done.wait()
            if build.error is not None:
                raise build.error
            assert build.result is not None
            return build.result
        try:
            build.result = compile_schema(
                fields, instructions_timing=instructions_timing, speech=speech
            )
        except BaseException as exc:
            build.error = exc
            raise
        finally:
            with self._lock:
                del self._building[key]
                if build.result is not None:
                    self._builds += 1
                    self._cache[key] = build.result
                    while len(self._cache) > self.max_size:
                        self._cache.popitem(last=False)
            build.done.set()
        return build.result

    @property
    def stats(self) -> RegistryStats:
        with self._lock:
            return RegistryStats(self._hits, self._misses, self._builds)

    def clear(self) -> None:
        """Drop all cached schemas (statistics are kept)."""
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


default_registry = SchemaRegistry()
