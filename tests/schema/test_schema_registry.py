"""SchemaRegistry: cache hits, LRU bound, single build under concurrency."""

import dataclasses
import threading
import time

import pytest

from agents_config.schema import (
    DEMO_FIELDS,
    FieldSpec,
    SchemaDefinitionError,
    SchemaRegistry,
    default_registry,
)
from agents_config.schema import registry as registry_module


def variant(n: int) -> tuple[FieldSpec, ...]:
    return (*DEMO_FIELDS[:5], dataclasses.replace(DEMO_FIELDS[5], description=f"v{n}"))


def test_cache_hit_and_key() -> None:
    registry = SchemaRegistry()
    first = registry.get_or_compile("agent-1", DEMO_FIELDS)
    assert registry.get_or_compile("agent-1", list(DEMO_FIELDS)) is first
    assert registry.get_or_compile("agent-2", DEMO_FIELDS) is not first
    changed = registry.get_or_compile("agent-1", variant(1))
    assert changed is not first and changed.checksum != first.checksum
    stats = registry.stats
    assert (stats.hits, stats.misses, stats.builds) == (1, 3, 3)
    assert len(registry) == 3
    registry.clear()
    assert len(registry) == 0


def test_bounded_lru_eviction() -> None:
    registry = SchemaRegistry(max_size=2)
    a = registry.get_or_compile("a", DEMO_FIELDS)
    registry.get_or_compile("b", DEMO_FIELDS)
    assert registry.get_or_compile("a", DEMO_FIELDS) is a  # "a" is now most recent
    registry.get_or_compile("c", DEMO_FIELDS)  # evicts "b"
    assert len(registry) == 2
    assert registry.get_or_compile("a", DEMO_FIELDS) is a
    builds = registry.stats.builds
    registry.get_or_compile("b", DEMO_FIELDS)
    assert registry.stats.builds == builds + 1


def test_invalid_max_size() -> None:
    with pytest.raises(ValueError):
        SchemaRegistry(max_size=0)


def test_errors_are_raised_and_not_cached() -> None:
    registry = SchemaRegistry()
    bad = (FieldSpec("x", "int"),)
    for _ in range(2):
        with pytest.raises(SchemaDefinitionError):
            registry.get_or_compile("bad", bad)
    assert len(registry) == 0 and registry.stats.builds == 0


def test_concurrent_threads_build_once(monkeypatch) -> None:
    calls = []
    real = registry_module.compile_schema

    def slow_compile(fields, **options):
        calls.append(threading.get_ident())
        time.sleep(0.05)
        return real(fields, **options)

    monkeypatch.setattr(registry_module, "compile_schema", slow_compile)
    registry = SchemaRegistry()
    barrier = threading.Barrier(16)
    results = []

    def worker() -> None:
        barrier.wait()
        results.append(registry.get_or_compile("agent", DEMO_FIELDS))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 16 and all(r is results[0] for r in results)
    assert registry.stats.builds == 1


def test_concurrent_failure_reaches_all_waiters(monkeypatch) -> None:
    def failing(fields, **options):
        time.sleep(0.05)
        raise SchemaDefinitionError([])

    monkeypatch.setattr(registry_module, "compile_schema", failing)
    registry = SchemaRegistry()
    errors = []

    def worker() -> None:
        try:
            registry.get_or_compile("agent", DEMO_FIELDS)
        except SchemaDefinitionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 4


def test_default_registry() -> None:
    assert isinstance(default_registry, SchemaRegistry)
    assert default_registry.max_size == 256
