from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from sessions_app.events import session_status_changed
        from sessions_app.telephony.services import on_session_status_changed

        session_status_changed.connect(
            on_session_status_changed, dispatch_uid="telephony-call-ended"
        )
