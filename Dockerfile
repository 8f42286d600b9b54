# One image for every process; the command picks it (see Procfile and config/processes.py):
#   docker run IMAGE web | worker provisioning default | worker reports | worker webhooks |
#              worker test_runs | beat | agent | migrate
# Stage 1: the playground's LiveKit JavaScript SDK bundle, from the locked npm packages.
FROM node:20-bookworm-slim AS frontend
WORKDIR /build
COPY sessions_app/static/playground/package.json sessions_app/static/playground/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# Stage 2: the Python dependencies in a virtualenv (build tools stay in this stage).
FROM python:3.12-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# Stage 3: the runtime image, run as an unprivileged user.
FROM python:3.12-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=app:app . /app
COPY --from=frontend --chown=app:app /build/node_modules/livekit-client/dist/livekit-client.umd.js \
     /app/sessions_app/static/playground/vendor/livekit-client.umd.js
# collectstatic runs when the web process starts (config/processes.py) and writes here.
RUN mkdir -p /app/staticfiles && chown app:app /app/staticfiles
USER app
EXPOSE 8000
ENTRYPOINT ["python", "-m", "config.processes"]
CMD ["web"]
