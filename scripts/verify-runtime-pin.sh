#!/usr/bin/env bash
# verify-runtime-pin.sh: a drop-in for the CI `verify-pin` step, backed by truedigest.
#
# Checks that the control plane's runtime-image pin for TEMPLATE_NAME, the digest
# the publish job says it pushed (EXPECTED_DIGEST) and what the registry serves
# for IMAGE_REF today are one digest; the registry is the truth.
#
# Environment:
#   CP_HOST             control-plane host, https assumed (a full http(s):// URL is
#                       used as is; http:// is for tests and local CPs only)
#   CP_ADMIN_API_TOKEN  the CP admin token (or the variable TOKEN_SECRET_NAME names)
#   TEMPLATE_NAME       template whose pin row is checked
#   EXPECTED_DIGEST     digest the publish job pushed (sha256:<64 hex>)
#   IMAGE_REF           the tag to resolve from the registry (host/repo:tag)
#   ENV_NAME            the CP's name in the report (default: prod)
#   REGION              region of the pin row (default: global)
#   TOKEN_SECRET_NAME   name of the variable holding the token (default: CP_ADMIN_API_TOKEN)
#   TRUEDIGEST_*        passed through to truedigest (e.g. TRUEDIGEST_PLAIN_HTTP=1,
#                       TRUEDIGEST_OUTPUT=json, TRUEDIGEST_CA_FILE=…)
# Extra arguments go to `truedigest verify` (e.g. `--wait 60`, `-o json`).
#
# Exit codes are truedigest's: 0 agree, 1 mismatch, 2 usage (here: a missing
# variable), 3 could not check, 10 the registry does not serve IMAGE_REF.
#
# Never add `set -x`: the token is in this script's environment. `set +x` also undoes an
# xtrace inherited through an exported SHELLOPTS.
set +x
set -euo pipefail

die_usage() {
    printf 'error: %s\n' "$1" >&2
    printf 'hint: %s\n' "$2" >&2
    exit 2
}

ENV_NAME="${ENV_NAME:-prod}"
REGION="${REGION:-global}"
TOKEN_SECRET_NAME="${TOKEN_SECRET_NAME:-CP_ADMIN_API_TOKEN}"

missing=()
for var in CP_HOST TEMPLATE_NAME EXPECTED_DIGEST IMAGE_REF; do
    if [[ -z "${!var:-}" ]]; then
        missing+=("$var")
    fi
done
if ((${#missing[@]})); then
    die_usage "${missing[*]} not set" \
        "export CP_HOST, TEMPLATE_NAME, EXPECTED_DIGEST and IMAGE_REF (see the top of $0)"
fi

if [[ ! "$TOKEN_SECRET_NAME" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    die_usage "TOKEN_SECRET_NAME must name an environment variable" \
        "set TOKEN_SECRET_NAME to the variable holding the token, e.g. CP_ADMIN_API_TOKEN"
fi
if [[ -z "${!TOKEN_SECRET_NAME:-}" ]]; then
    die_usage "$TOKEN_SECRET_NAME (the CP token) is not set" \
        "export $TOKEN_SECRET_NAME, or set TOKEN_SECRET_NAME to the variable holding the token"
fi
# truedigest reads the token from the environment by name: export it, never pass it.
export "${TOKEN_SECRET_NAME?}"

case "$CP_HOST" in
    http://* | https://*) cp_url="$CP_HOST" ;;
    *) cp_url="https://$CP_HOST" ;;
esac

if command -v truedigest >/dev/null 2>&1; then
    truedigest=(truedigest)
elif python3 -c 'import truedigest' >/dev/null 2>&1; then
    truedigest=(python3 -m truedigest)
else
    # Not exit 1: that would read as "checked, and the pin is wrong".
    printf 'error: truedigest is not installed (not on PATH, and python3 cannot import it)\n' >&2
    printf 'hint: pip install truedigest, or put the bin directory of its venv on PATH\n' >&2
    exit 3
fi

exec "${truedigest[@]}" verify \
    --image "$IMAGE_REF" \
    --build-digest "$EXPECTED_DIGEST" \
    --cp "$ENV_NAME=$cp_url" \
    --cp-token-env "$ENV_NAME=$TOKEN_SECRET_NAME" \
    --template "$TEMPLATE_NAME" \
    --region "$REGION" \
    "$@"
