"""WSGI entry point.

The URLconf (and with it every view, the agent worker's text chat and livekit-agents) is
imported here rather than on the first request: gunicorn preloads this module in its master
process (``--preload``, config/processes.py), so each worker, including those that replace
recycled ones, forks ready to serve instead of spending seconds of CPU importing while its
first requests wait.
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf now
