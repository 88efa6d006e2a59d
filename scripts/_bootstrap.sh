# shellcheck shell=bash
# Sourced by scripts/test, scripts/demo, scripts/bench, scripts/build-zipapp: install
# what they need on a fresh Debian machine (apt packages, a virtualenv with the project
# and its test extra), idempotently and quickly when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRUEDIGEST_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

_apt_install() {
  echo "==> installing $* (apt)" >&2
  _sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive _sudo apt-get install -y -qq --no-install-recommends \
    "$@" >/dev/null
}

# ensure_apt: docker-registry and skopeo (the real registry and the oracle).
ensure_apt() { ensure_apt_tools docker-registry skopeo; }

# ensure_apt_tools COMMAND...: each COMMAND on PATH, installing the Debian package of
# the same name (docker-registry, skopeo, pipx, shellcheck) in one apt transaction.
ensure_apt_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    _apt_install "${missing[@]}"
  fi
}

ensure_venv() {
  local stamp="$VENV/.truedigest-installed"
  if [ ! -x "$PY" ]; then
    echo "==> creating virtualenv $VENV" >&2
    python3 -m venv "$VENV" 2>/dev/null || {
      _apt_install python3-venv
      python3 -m venv "$VENV"
    }
  fi
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "==> installing truedigest with its test extra into $VENV" >&2
    "$PY" -m pip install -q --disable-pip-version-check -e "${ROOT}[test]" 2>&1 \
      | grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' >&2 || true
    "$PY" -c "import truedigest, pytest, respx, oras, bcrypt" \
      || { echo "error: virtualenv install failed" >&2; exit 1; }
    touch "$stamp"
  fi
}

# The interpreter a fresh Debian 12 has (python3 3.11, no virtualenv): what
# dist/truedigest.pyz is built for and tested with.
system_python() {
  if [ -x /usr/bin/python3 ]; then
    echo /usr/bin/python3
  else
    command -v python3
  fi
}

# ensure_pip_python: print a Python that has pip, to download the zipapp's pinned
# wheels: the project virtualenv's when there is one, else the system python3 (pip
# --target is allowed on an externally managed python3), installing python3-pip if
# needed.
ensure_pip_python() {
  local sys_py
  if [ -x "$PY" ] && [ -x "$VENV/bin/pip" ]; then
    echo "$PY"
    return
  fi
  sys_py="$(system_python)"
  if ! "$sys_py" -m pip --version >/dev/null 2>&1; then
    _apt_install python3-pip
  fi
  echo "$sys_py"
}
