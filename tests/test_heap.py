"""Start-up heaps are frozen, so full garbage collections stop walking them.

A full collection over what the web process imports (Django, the URLconf, livekit-agents for
the text chat) took 116 ms per pass: the p99 tail of bench/api_load.py. gunicorn's master
imports ``config.wsgi`` before forking (``--preload``), so the freeze there covers every worker.
"""

from __future__ import annotations

from tests.probes import run_probe

PROBE = """
import gc, json
import config.wsgi
frozen = gc.get_freeze_count()
gc.collect()
print(json.dumps({"frozen": frozen, "tracked": len(gc.get_objects())}))
"""


def test_the_web_entry_point_freezes_what_it_imported(tmp_path):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "heap-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
    }
    counts = run_probe(PROBE, env=env, timeout=120)
    assert counts["frozen"] > 100_000  # the imports: out of every collection's way
    assert counts["tracked"] < counts["frozen"] / 10  # what a full collection still walks


def test_freeze_heap_moves_live_objects_out_of_the_collector():
    probe = "\n".join(
        [
            "import gc",
            "from tenants.platform.heap import freeze_heap",
            "kept = [[i] for i in range(50_000)]",
            "freeze_heap()",
            "print(gc.get_freeze_count())",
        ]
    )
    assert run_probe(probe) >= 50_000
