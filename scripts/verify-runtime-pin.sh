#!/usr/bin/env bash
# verify-runtime-pin.sh: a drop-in for the CI `verify-pin` step, backed by truedigest.
#
# Checks that the control plane's (CP) runtime-image pin for TEMPLATE_NAME in REGION
# is EXPECTED_DIGEST, the digest the publish job pushed; and, beyond the original
# script, that the registry really serves that digest as a pullable image.
#
# Environment (the original script's contract):
#   CP_HOST             required: the CP host; https:// is prepended (a full
#                       http(s):// URL is used as is; http:// only for local CPs)
#   CP_ADMIN_API_TOKEN  required: the CP admin token (always read from here)
#   TEMPLATE_NAME       required: template whose pin row is checked
#   EXPECTED_DIGEST     required: digest the publish job pushed (sha256:<64 hex>)
#   ENV_NAME            optional: name shown in every message (default: ?)
#   TOKEN_SECRET_NAME   optional: the secret to name when the CP refuses the token
#                       (default: CP_ADMIN_API_TOKEN); only ever used in that text
#   REGION              optional: region of the pin row (default: global)
# Added:
#   IMAGE_REF           optional: a tag (host/repo:tag). Set, the check is the full
#                       three-way `truedigest verify`: what the registry serves for
#                       IMAGE_REF now, the CP pin and EXPECTED_DIGEST must be one digest.
#                       Unset, the repository is taken from the pin row's image_ref and
#                       the registry must serve EXPECTED_DIGEST there as an image index
#                       or manifest (a config digest, a layer or a missing manifest is
#                       red). A row without image_ref: the CP check alone decides, and
#                       the notice says that the registry was not checked.
#   TRUEDIGEST          optional: the command to run truedigest, split on whitespace
#                       (e.g. `python3 /opt/truedigest.pyz`); default `truedigest` on
#                       PATH, else `python3 -m truedigest`
#   TRUEDIGEST_*        passed to truedigest (TRUEDIGEST_CA_FILE, TRUEDIGEST_TIMEOUT,
#                       TRUEDIGEST_PLAIN_HTTP=1 for a local registry, registry
#                       credentials TRUEDIGEST_REGISTRY_USERNAME/_PASSWORD; docker's
#                       config.json is read too). TRUEDIGEST_OUTPUT is ignored.
# Arguments: none; with IMAGE_REF set, extra arguments go to `truedigest verify`
# (e.g. `--wait 60`, `--git-sha SHA`). `--help` prints this text.
#
# Output: every red run prints exactly one `::error::[verify-runtime-pin <ENV_NAME>] …`
# line and a green run one `::notice::[verify-runtime-pin <ENV_NAME>] …` line, on
# stdout (as the original); details from truedigest go to stderr. $GITHUB_OUTPUT (when
# set) receives `verdict=agree|mismatch|unavailable|absent` and, once the registry
# served the digest, `digest=sha256:…`; with IMAGE_REF, $GITHUB_STEP_SUMMARY receives
# truedigest's table.
#
# Exit codes (truedigest's; any non-zero is red, as every red exit of the original):
#   0  green: the CP pins EXPECTED_DIGEST (and the registry serves it, when checked)
#   1  checked and wrong: no pin row, another digest pinned, duplicate rows, a pin
#      row whose image_ref names another digest, EXPECTED_DIGEST not pullable from
#      the registry (config digest, layer, dangling), IMAGE_REF at another digest
#   2  usage: a required variable empty or unset, a malformed EXPECTED_DIGEST,
#      CP_HOST or IMAGE_REF, arguments without IMAGE_REF
#   3  could not check: the CP answered non-200 (401/403 name TOKEN_SECRET_NAME),
#      an empty or malformed CP body, network/TLS errors, the registry unreadable,
#      truedigest or python3 missing
#   10 IMAGE_REF is not served by the registry
#
# Deliberately stricter than the original script:
#   - two or more pin rows for one TEMPLATE_NAME and REGION are red (exit 1), even
#     when they all hold EXPECTED_DIGEST: which one provisions use is undefined;
#   - EXPECTED_DIGEST must be a whole `sha256:` + 64 lowercase hex digest: a
#     truncated or short digest, another algorithm or a bare hex string is exit 2;
#   - a pin row that is malformed (a field of the wrong type) or whose image_ref
#     names another digest (or is not a valid reference) is red;
#   - when the row has an image_ref (or IMAGE_REF is set) the registry must be
#     readable: an unreachable registry or missing registry credentials are exit 3
#     (the original never asked the registry), and a pinned digest the registry does
#     not serve as an image is red.
#
# Never add `set -x`: the token is in this script's environment. `set +x` also undoes
# an xtrace inherited through an exported SHELLOPTS. The token never reaches an
# argument list: truedigest reads it from CP_ADMIN_API_TOKEN by name.
set +x
set -euo pipefail
umask 077

ENV_NAME="${ENV_NAME:-?}"
REGION="${REGION:-global}"
TOKEN_SECRET_NAME="${TOKEN_SECRET_NAME:-CP_ADMIN_API_TOKEN}"
readonly DIGEST_RE='^sha256:[0-9a-f]{64}$'
# A tag no repository has: `pins` compares each pin with it, so its row statuses say
# only what is wrong with the row itself and whether the registry serves its digest.
readonly NO_TAG=verify-runtime-pin-no-such-tag

# One workflow command line on stdout: our values made inert (controls replaced, `%`
# escaped as the runner expects, the legacy `##[` broken, the token masked).
annotate() {
    local kind="$1" msg="[verify-runtime-pin ${ENV_NAME}] $2"
    if [[ -n "${CP_ADMIN_API_TOKEN:-}" ]]; then
        msg="${msg//"$CP_ADMIN_API_TOKEN"/***}"
    fi
    msg="${msg//[[:cntrl:]]/?}"
    msg="${msg//%/%25}"
    msg="${msg//'##['/'##\['}"
    printf '::%s::%s\n' "$kind" "$msg"
}

# Without IMAGE_REF, `verdict=` and (once the registry served it) `digest=` go to
# $GITHUB_OUTPUT as `truedigest verify` writes them with IMAGE_REF.
outputs=""
registry_digest=""
github_output() {
    if [[ -n "$outputs" && -n "${GITHUB_OUTPUT:-}" ]]; then
        printf 'verdict=%s\n' "$1" >>"$GITHUB_OUTPUT"
        if [[ -n "$registry_digest" ]]; then
            printf 'digest=%s\n' "$registry_digest" >>"$GITHUB_OUTPUT"
        fi
    fi
}

red() { # red EXIT_CODE MESSAGE [HINT]
    annotate error "$2"
    if [[ -n "${3:-}" ]]; then
        printf 'hint: %s\n' "$3" >&2
    fi
    case "$1" in
        1) github_output mismatch ;;
        3) github_output unavailable ;;
    esac
    exit "$1"
}

green() {
    annotate notice "$1"
    github_output agree
    exit 0
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set +x$/{/^set +x$/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
fi

# -- the contract ---------------------------------------------------------------------

missing=()
for var in CP_HOST CP_ADMIN_API_TOKEN TEMPLATE_NAME EXPECTED_DIGEST; do
    if [[ -z "${!var:-}" ]]; then
        missing+=("$var")
    fi
done
if ((${#missing[@]})); then
    what="${missing[*]}"
    red 2 "${what// /, } not set (or empty)" \
        "export CP_HOST, CP_ADMIN_API_TOKEN (from the secret ${TOKEN_SECRET_NAME}), TEMPLATE_NAME and EXPECTED_DIGEST; see $0 --help"
fi
if [[ ! "$EXPECTED_DIGEST" =~ $DIGEST_RE ]]; then
    red 2 "EXPECTED_DIGEST '${EXPECTED_DIGEST}' is not a digest: expected sha256: and 64 lowercase hex characters (a truncated digest is refused)" \
        "pass the whole digest the push printed, e.g. from docker buildx --metadata-file (containerimage.digest)"
fi
if [[ -z "${IMAGE_REF:-}" && $# -gt 0 ]]; then
    red 2 "arguments ($*) are passed to truedigest verify, which runs only with IMAGE_REF set" \
        "set IMAGE_REF (host/repo:tag) or drop the arguments"
fi
case "$CP_HOST" in
    http://* | https://*) cp_url="$CP_HOST" ;;
    *) cp_url="https://$CP_HOST" ;;
esac
# truedigest names each CP: ENV_NAME when it is a valid name, else `cp`.
cp_name="cp"
if [[ "$ENV_NAME" =~ ^[A-Za-z0-9._-]{1,64}$ ]]; then
    cp_name="$ENV_NAME"
fi
where="template '${TEMPLATE_NAME}' in region '${REGION}'"

# -- the tools ------------------------------------------------------------------------

if [[ -n "${TRUEDIGEST:-}" ]]; then
    read -r -a truedigest <<<"$TRUEDIGEST"
elif command -v truedigest >/dev/null 2>&1; then
    truedigest=(truedigest)
elif python3 -c 'import truedigest' >/dev/null 2>&1; then
    truedigest=(python3 -m truedigest)
else
    # Not exit 1: that would read as "checked, and the pin is wrong".
    red 3 "truedigest is not installed (not on PATH, python3 cannot import it, TRUEDIGEST unset)" \
        "install it with pipx from this repository, or download truedigest.pyz and set TRUEDIGEST='python3 truedigest.pyz'"
fi
if ! command -v python3 >/dev/null 2>&1; then
    red 3 "python3 is needed to read truedigest's JSON and is not on PATH" \
        "install python3 (Debian: apt-get install python3)"
fi

work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT

# Reads one of truedigest's JSON documents; prints the fields asked for, one per line,
# each made inert (controls and lone surrogates escaped, `##[` broken, the token
# masked). Exit 1 when the file is not one JSON object.
cat >"$work/fields.py" <<'PY'
import json, os, re, sys

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
TOKEN = os.environ.get("CP_ADMIN_API_TOKEN", "")


def clean(value):
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    if TOKEN:
        text = text.replace(TOKEN, "***")
    text = UNSAFE.sub(lambda m: "\\u%04x" % ord(m.group()), text)
    return text.replace("##[", "##\\[")[:1000]


def out(*values):
    sys.stdout.write("".join(clean(v) + "\n" for v in values))


def rows(doc, template, region, no_tag):
    pins = [p for p in doc.get("pins") or [] if isinstance(p, dict)]
    unread = [p for p in pins if p.get("status") == "error" and p.get("template_name") is None]
    mine = [p for p in pins if p.get("template_name") == template and p.get("region") == region]
    row = mine[0] if mine else {}
    digests = ", ".join(clean(p.get("image_digest")) for p in mine)
    problem = None
    if row.get("status") == "mismatch" and row.get("relation") is None:  # the row itself
        parts = str(row.get("detail") or "broken").split("; ")
        problem = "; ".join(p for p in parts if no_tag not in p and "--repo" not in p)
    out(unread[0].get("detail") if unread else None, str(len(mine)), row.get("image_digest"),
        row.get("image_ref"), row.get("repository"), digests, problem, row.get("exists"))


def main():
    mode, path = sys.argv[1], sys.argv[2]
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return 1
    if not isinstance(doc, dict):
        return 1
    if mode == "pins":
        rows(doc, *sys.argv[3:6])
    elif mode == "verify":
        out(doc.get("verdict"), doc.get("truth"))
        for s in doc.get("sources") or []:
            if isinstance(s, dict) and s.get("status") != "ok":
                out("%s: %s" % (clean(s.get("id")), clean(s.get("detail") or s.get("status"))))
    elif mode == "resolve":
        out(doc.get("digest"), doc.get("media_type"))
    elif mode == "whatis":
        out(doc.get("kind"), doc.get("detail"))
    return 0


sys.exit(main())
PY

# fields MODE FILE [ARG…]: the fields into the array `got`; false when FILE holds no
# JSON object (truedigest stopped before writing one).
fields() {
    python3 -I "$work/fields.py" "$@" >"$work/fields.out" || return 1
    mapfile -t got <"$work/fields.out"
}

# td NAME ARG…: run truedigest; stdout to $work/NAME.json, stderr to $work/NAME.err,
# the exit code in `rc`. Annotations stay ours alone: GITHUB_ACTIONS and GITEA_ACTIONS
# are hidden from it (its step summary and outputs are still written).
td() {
    local name="$1"
    shift
    rc=0
    env -u GITHUB_ACTIONS -u GITEA_ACTIONS "${truedigest[@]}" "$@" \
        >"$work/$name.json" 2>"$work/$name.err" </dev/null || rc=$?
}

# The first `error:` line truedigest printed (or the last line), without the prefix.
first_error() {
    local line last=""
    while IFS= read -r line; do
        if [[ "$line" == "error: "* ]]; then
            printf '%s' "${line#error: }"
            return
        fi
        [[ -n "$line" ]] && last="$line"
    done <"$work/$1.err"
    printf '%s' "${last:-truedigest $1 exited with $rc and printed nothing}"
}

# The exit code of a red run: truedigest's own, and 3 for anything else (a crash, a
# missing interpreter, 0 without a report).
red_exit() {
    case "$1" in
        1 | 2 | 3 | 10) printf '%s' "$1" ;;
        *) printf '3' ;;
    esac
}

token_hint() { # a 401/403 from the CP: name the secret to check, never the token
    if [[ "$1" =~ HTTP\ 40[13] ]]; then
        printf '; check the secret %s (its value is read from CP_ADMIN_API_TOKEN)' "$TOKEN_SECRET_NAME"
    fi
}

# -- with IMAGE_REF: the full three-way verify ------------------------------------------

if [[ -n "${IMAGE_REF:-}" ]]; then
    td verify verify "$@" \
        --image "$IMAGE_REF" \
        --build-digest "$EXPECTED_DIGEST" \
        --cp "$cp_name=$cp_url" \
        --cp-token-env "$cp_name=CP_ADMIN_API_TOKEN" \
        --template "$TEMPLATE_NAME" \
        --region "$REGION" \
        -o json
    cat "$work/verify.err" >&2
    if ! fields verify "$work/verify.json"; then
        red "$(red_exit "$rc")" "$(first_error verify)"
    fi
    if ((rc == 0)); then
        green "${IMAGE_REF} is ${got[1]} in the registry; the CP pin for ${where} and EXPECTED_DIGEST agree"
    fi
    wrong="$(printf '%s; ' "${got[@]:2}")"
    wrong="${wrong%; }"
    red "$(red_exit "$rc")" "${got[0]}: ${wrong}$(token_hint "$wrong")"
fi

# -- without IMAGE_REF: the CP row, then the registry at the row's repository ----------

outputs=1
td pins pins \
    --cp "$cp_name=$cp_url" \
    --cp-token-env "$cp_name=CP_ADMIN_API_TOKEN" \
    --template "$TEMPLATE_NAME" \
    --track "$NO_TAG" \
    -o json
if ! fields pins "$work/pins.json" "$TEMPLATE_NAME" "$REGION" "$NO_TAG"; then
    cat "$work/pins.err" >&2
    red "$(red_exit "$rc")" "$(first_error pins)"
fi
unread="${got[0]}" count="${got[1]}" pinned="${got[2]}" image_ref="${got[3]}"
repo="${got[4]}" digests="${got[5]}" problem="${got[6]}" exists="${got[7]}"

if [[ -n "$unread" ]]; then
    red 3 "could not read the pins: ${unread}$(token_hint "$unread")"
fi
if ((count == 0)); then
    red 1 "no pin row for ${where} on ${cp_url}: the promote did not land, or wrote another template name or region"
fi
if ((count > 1)); then
    red 1 "${count} pin rows for ${where} (${digests}): which one provisions use is undefined; delete the duplicates"
fi
if [[ "$pinned" != "$EXPECTED_DIGEST" ]]; then
    red 1 "the CP pins ${pinned:-no digest} for ${where}, but EXPECTED_DIGEST is ${EXPECTED_DIGEST}: the promote did not land, or pinned another build"
fi
if [[ -n "$problem" ]]; then
    red 1 "the pin row for ${where} holds EXPECTED_DIGEST but is broken: ${problem}"
fi
if [[ -z "$image_ref" ]]; then
    green "the CP pins EXPECTED_DIGEST ${EXPECTED_DIGEST} for ${where}; the registry was NOT checked: the pin row has no image_ref (set IMAGE_REF to check it)"
fi
if [[ "$image_ref" != *"@$EXPECTED_DIGEST" || -z "$repo" ]]; then
    red 1 "the pin row for ${where} holds EXPECTED_DIGEST but its image_ref ${image_ref} does not name ${EXPECTED_DIGEST}"
fi

# Green only on the manifest's bytes, hashed (the HEAD `pins` made is a claim). When
# `pins` found no such manifest, or the GET fails (distribution answers 404, or 500
# for a blob's digest), whatis tells a config digest, a layer and a dangling pin apart.
resolved="pins found no manifest ${EXPECTED_DIGEST} in ${repo}"
if [[ "$exists" != "false" ]]; then
    td resolve resolve "$repo@$EXPECTED_DIGEST" -o json
    if ((rc == 0)) && fields resolve "$work/resolve.json" && [[ "${got[0]}" == "$EXPECTED_DIGEST" ]]; then
        registry_digest="$EXPECTED_DIGEST"
        green "the CP pins EXPECTED_DIGEST ${EXPECTED_DIGEST} for ${where}, and ${repo} serves it as a pullable image (${got[1]})"
    fi
    resolved="$(first_error resolve)"
fi
td whatis whatis "$EXPECTED_DIGEST" --repo "$repo" -o json
if fields whatis "$work/whatis.json"; then
    case "${got[0]}" in
        config | layer | attestation)
            red 1 "the CP pins ${EXPECTED_DIGEST} for ${where}, but in ${repo} it is not a pullable image: ${got[1]}"
            ;;
        absent)
            red 1 "the CP pins ${EXPECTED_DIGEST} for ${where}, but ${repo} has no such manifest: a dangling pin, provisions will fail to pull it"
            ;;
    esac
fi
red 3 "the CP pins EXPECTED_DIGEST for ${where}, but the registry could not be checked: ${resolved}"
