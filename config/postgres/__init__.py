"""The platform's PostgreSQL database backend (``DATABASES["default"]["ENGINE"]``)."""
