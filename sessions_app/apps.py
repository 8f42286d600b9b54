from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from sessions_app.events import session_status_changed
        from sessions_app.telephony.models import PhoneNumber
        from sessions_app.telephony.services import (
            on_phone_number_deleted,
            on_session_status_changed,
        )

        session_status_changed.connect(
            on_session_status_changed, dispatch_uid="telephony-call-ended"
        )
        post_delete.connect(
            on_phone_number_deleted, sender=PhoneNumber, dispatch_uid="telephony-number-deleted"
        )
