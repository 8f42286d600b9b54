"""URL routes: admin, API (v1), OpenAPI schema and docs, health probes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.views import healthz, readyz
from worker.chat import chat_turn

admin.site.site_header = "Voice Agents"
admin.site.site_title = "Voice Agents admin"
admin.site.index_title = "Agents, tenants and sessions"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # The playground's text chat runs the agent, so its view lives in worker/ (layers).
    path("playground/<slug:agent_id>/text-chat", chat_turn, name="playground-text-chat"),
    path("", include("sessions_app.playground_urls")),
]
