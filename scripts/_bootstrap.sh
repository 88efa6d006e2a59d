# Sourced by scripts/test, scripts/demo, scripts/bench: install what they need on a
# fresh Debian machine (apt packages, a virtualenv with the project and its test
# extra), idempotently and quickly when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRUEDIGEST_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_apt() {
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]} (apt)" >&2
    _sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive _sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local stamp="$VENV/.truedigest-installed"
  if [ ! -x "$PY" ]; then
    echo "==> creating virtualenv $VENV" >&2
    python3 -m venv "$VENV" 2>/dev/null || {
      _sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive _sudo apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$VENV"
    }
  fi
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "==> installing truedigest with its test extra into $VENV" >&2
    "$PY" -m pip install -q --disable-pip-version-check -e "$ROOT[test]" 2>&1 \
      | grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' >&2 || true
    "$PY" -c "import truedigest, pytest, respx, oras, bcrypt" \
      || { echo "error: virtualenv install failed" >&2; exit 1; }
    touch "$stamp"
  fi
}
