"""WSGI entry point.

The URLconf (and with it every view, the agent worker's text chat and livekit-agents) is
imported here rather than on the first request: gunicorn preloads this module in its master
process (``--preload``, config/processes.py), so each worker, including those that replace
recycled ones, forks ready to serve instead of spending seconds of CPU importing while its
first requests wait. The heap is then frozen (``freeze_heap``): a full garbage collection over
those imports took 116 ms per pass, the tail of the API's latency (bench/api_load.py).
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from tenants.platform.heap import freeze_heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf now
freeze_heap()
