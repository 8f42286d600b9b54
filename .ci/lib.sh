# Shared by .ci/run and .ci/quickstart: find Python >= 3.12 and prepare the virtualenv.
find_python() {
  local candidate
  for candidate in python3.12 python3.13 "${HOME}/.pyenv/versions/3.12.1/bin/python3.12" \
                   /usr/bin/python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
       && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  # pyenv installs several versions but exposes only the global one through its shims.
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9]' | sort -rV); do
      echo "$(pyenv root)/versions/${candidate}/bin/python3"
      return 0
    done
  fi
  echo "error: Python 3.12 or newer is required (python3.12 not found)" >&2
  return 1
}

requirements_digest() {  # one checksum of every requirements*.txt (one may include another)
  .venv/bin/python -c 'import hashlib, pathlib; print(hashlib.sha256(b"".join(
    p.read_bytes() for p in sorted(pathlib.Path(".").glob("requirements*.txt")))).hexdigest())'
}

ensure_venv() {  # $1: requirements file
  # pip runs only when the requirements changed since the last install into this venv (a
  # stamp in var/ holds their checksum), so a second run starts in seconds.
  local python digest stamp="var/installed-$(basename "$1").sha256"
  if [ ! -x .venv/bin/python ]; then
    python=$(find_python)
    "$python" -m venv .venv
    rm -f "$stamp"
  fi
  digest=$(requirements_digest)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then return 0; fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$1"
  mkdir -p var && echo "$digest" > "$stamp"
}

install_frontend() {
  # The playground's LiveKit JavaScript SDK: installed from the npm registry with the locked
  # versions, built outside the static folder (so collectstatic never sees node_modules) and
  # its browser bundle copied into the app's static files. Skipped when already up to date.
  local source=sessions_app/static/playground build=var/frontend
  local target="$source/vendor/livekit-client.umd.js"
  if [ -f "$target" ] && [ "$target" -nt "$source/package-lock.json" ]; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm (Node.js 20 or newer) is needed to install the playground's livekit-client" >&2
    return 1
  fi
  mkdir -p "$build" "$source/vendor"
  cp "$source/package.json" "$source/package-lock.json" "$build/"
  npm ci --prefix "$build" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$build/node_modules/livekit-client/dist/livekit-client.umd.js" "$target"
}

dotenv_value() {  # $1: name; its value in .env (empty when unset)
  [ -f .env ] || return 0
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" .env | tail -n 1 | sed "s/^[\"']//; s/[\"']\$//"
}

ensure_dotenv() {
  # The quick start's settings, written once so that every later command (a second terminal's
  # manage.py, the worker) reads the same keys. An existing .env is never touched.
  if [ -f .env ]; then return 0; fi
  .venv/bin/python - "${PORT:-8000}" <<'PY'
import base64, secrets, sys
from pathlib import Path

port = sys.argv[1]
Path(".env").write_text(
    "# Written by .ci/quickstart for local development (never commit it). Edit freely;\n"
    "# the quick start does not overwrite it. Environment variables win over these values.\n"
    "DEBUG=1\n"
    f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    "# Fernet key encrypting the tenants' provider keys and webhook secrets at rest.\n"
    f"SECRETS_ENCRYPTION_KEY={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}\n"
    f"PORT={port}\n"
)
PY
  chmod 600 .env
  echo "Wrote .env (DEBUG=1, a new SECRET_KEY and SECRETS_ENCRYPTION_KEY, PORT=${PORT:-8000})."
}
