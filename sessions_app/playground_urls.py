"""Routes of the browser playground and the login page it sends visitors to."""

from django.contrib.auth import views as auth_views
from django.urls import path

from sessions_app import playground

app_name = "playground"

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="playground/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("playground/", playground.agent_list, name="agents"),
    path("playground/sessions/<uuid:session_id>/", playground.session_page, name="session"),
    path("playground/<slug:agent_id>/", playground.agent_page, name="agent"),
]
