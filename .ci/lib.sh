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

ensure_venv() {  # $1: requirements file
  local python
  if [ ! -x .venv/bin/python ]; then
    python=$(find_python)
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$1"
}
