"""Challenge parsing and credential stores (env, files, docker config, helpers).

Every store test passes an explicit env dict whose HOME is tmp_path, so the real
~/.docker and ~/.config are never read.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truedigest.errors import AuthError, ExitCode, InputFileError, TruedigestError
from truedigest.oci.auth import (
    Challenge,
    Credentials,
    CredentialStore,
    parse_challenge,
    parse_challenges,
    parse_token_response,
    pull_scope,
)
from truedigest.oci.secret import Secret

PASSWORD = "pa55-word-7d41e"
TOKEN = "identity-token-0c9a2"
REG = "reg.example"
HUB = "registry-1.docker.io"


# -- parse_challenge ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        pytest.param(
            'Bearer realm="https://auth.example/token",service="reg.example",'
            'scope="repository:a/b:pull"',
            "bearer",
            {
                "realm": "https://auth.example/token",
                "service": "reg.example",
                "scope": "repository:a/b:pull",
            },
            id="distribution",
        ),
        pytest.param(
            'Bearer realm="https://a/t", scope="repository:a:pull,push"',
            "bearer",
            {"realm": "https://a/t", "scope": "repository:a:pull,push"},
            id="quoted-comma",
        ),
        pytest.param(
            'Bearer realm="https://a/t",scope="repository:a:pull repository:b:pull"',
            "bearer",
            {"realm": "https://a/t", "scope": "repository:a:pull repository:b:pull"},
            id="space-separated-scopes",
        ),
        pytest.param(
            r'Bearer realm="say \"hi\", ok",service="s"',
            "bearer",
            {"realm": 'say "hi", ok', "service": "s"},
            id="escaped-quotes",
        ),
        pytest.param(
            r'Bearer realm="back\\slash"',
            "bearer",
            {"realm": "back\\slash"},
            id="escaped-backslash",
        ),
        pytest.param(
            "Bearer realm=https://a/token,service=reg.example",
            "bearer",
            {"realm": "https://a/token", "service": "reg.example"},
            id="bare-values",
        ),
        pytest.param(
            'Bearer realm=https://a/token , service="x"',
            "bearer",
            {"realm": "https://a/token", "service": "x"},
            id="bare-then-quoted",
        ),
        pytest.param(
            'BEARER Realm="https://a/t",Error="insufficient_scope"',
            "bearer",
            {"realm": "https://a/t", "error": "insufficient_scope"},
            id="case-insensitive-names",
        ),
        pytest.param(
            'Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}, id="basic"
        ),
        pytest.param("Bearer", "bearer", {}, id="no-params"),
        pytest.param('  Bearer realm=""', "bearer", {"realm": ""}, id="empty-value"),
    ],
)
def test_parse_challenge(header: str, scheme: str, params: dict[str, str]) -> None:
    assert parse_challenge(header) == Challenge(scheme, params)


@pytest.mark.parametrize("header", [None, ""])
def test_parse_challenge_absent(header: str | None) -> None:
    assert parse_challenge(header) is None


def test_challenge_realm_property() -> None:
    challenge = parse_challenge('Bearer realm="https://a/t"')
    assert challenge is not None
    assert challenge.realm == "https://a/t"
    assert Challenge("bearer", {}).realm is None


def test_pull_scope() -> None:
    assert pull_scope("library/ubuntu") == "repository:library/ubuntu:pull"


def test_basic_header() -> None:
    creds = Credentials("test", "user", Secret(PASSWORD))
    header = creds.basic_header()
    assert header is not None
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"user:{PASSWORD}"
    assert Credentials("test", identity_token=Secret(TOKEN)).basic_header() is None
    assert PASSWORD not in repr(creds)


# -- helpers ---------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


class HelperRecorder:
    """A stand-in for `docker-credential-<helper> get`."""

    def __init__(self, answers: dict[tuple[str, str], str | None]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def __call__(self, helper: str, server: str) -> str | None:
        self.calls.append((helper, server))
        return self.answers.get((helper, server))


def _no_helper(helper: str, server: str) -> str | None:
    raise AssertionError(f"no helper expected, got {helper} for {server}")


def _store(
    tmp_path: Path,
    extra: dict[str, str] | None = None,
    run_helper: Callable[[str, str], str | None] = _no_helper,
) -> CredentialStore:
    env = {"HOME": str(tmp_path / "home"), **(extra or {})}
    return CredentialStore(env=env, run_helper=run_helper)


def _assert_no_secret(exc: BaseException, *secrets: str) -> None:
    assert isinstance(exc, AuthError)
    assert exc.exit_code == ExitCode.UNAVAILABLE
    texts = [str(exc), repr(exc), exc.instance_hint or ""]
    for secret in secrets:
        for text in texts:
            assert secret not in text


# -- environment ------------------------------------------------------------------------


def test_nothing_configured(tmp_path: Path) -> None:
    assert _store(tmp_path).lookup(REG) is None


def test_env_username_and_password(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        {"TRUEDIGEST_REGISTRY_USERNAME": "ci", "TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD},
    )
    creds = store.lookup(REG)
    assert creds is not None
    assert (creds.username, creds.source) == ("ci", "TRUEDIGEST_REGISTRY_USERNAME/PASSWORD")
    assert creds.password == Secret(PASSWORD)


@pytest.mark.parametrize(
    ("scope", "registry", "offered"),
    [
        ("", "other.example:5000", True),  # unset: every registry
        (REG, REG, True),
        (f"elsewhere.example, {REG}", REG, True),
        (REG, "other.example:5000", False),
        ("docker.io", "registry-1.docker.io", True),
        ("docker.io", REG, False),
    ],
)
def test_env_credentials_confined_by_registry_host(
    tmp_path: Path, scope: str, registry: str, offered: bool
) -> None:
    env = {
        "TRUEDIGEST_REGISTRY_USERNAME": "ci",
        "TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD,
        "TRUEDIGEST_REGISTRY_HOST": scope,
    }
    assert (_store(tmp_path, env).lookup(registry) is not None) is offered


def test_env_password_without_username_is_ignored(tmp_path: Path) -> None:
    assert _store(tmp_path, {"TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD}).lookup(REG) is None


@pytest.mark.parametrize(
    ("file_text", "env"),
    [
        pytest.param(PASSWORD + "\n", {}, id="alone"),
        pytest.param(
            "from-file", {"TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD}, id="env-wins-over-file"
        ),
    ],
)
def test_password_file(tmp_path: Path, file_text: str, env: dict[str, str]) -> None:
    pw_file = tmp_path / "pw"
    pw_file.write_text(file_text)
    store = _store(
        tmp_path,
        {
            "TRUEDIGEST_REGISTRY_USERNAME": "ci",
            **env,
            "TRUEDIGEST_REGISTRY_PASSWORD_FILE": str(pw_file),
        },
    )
    creds = store.lookup(REG)
    assert creds is not None
    assert creds.password == Secret(PASSWORD)


def test_unreadable_password_file(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        {
            "TRUEDIGEST_REGISTRY_USERNAME": "ci",
            "TRUEDIGEST_REGISTRY_PASSWORD_FILE": str(tmp_path / "missing"),
        },
    )
    with pytest.raises(InputFileError, match="TRUEDIGEST_REGISTRY_PASSWORD_FILE") as info:
        store.lookup(REG)
    assert info.value.exit_code == ExitCode.USAGE
    assert PASSWORD not in str(info.value)


def test_env_wins_over_files(tmp_path: Path) -> None:
    docker = _write_json(
        tmp_path / "docker" / "config.json", {"auths": {REG: {"auth": _b64("file:x")}}}
    )
    store = _store(
        tmp_path,
        {
            "TRUEDIGEST_REGISTRY_USERNAME": "ci",
            "TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD,
            "DOCKER_CONFIG": str(docker.parent),
        },
    )
    creds = store.lookup(REG)
    assert creds is not None
    assert creds.username == "ci"


# -- docker config.json -------------------------------------------------------------------


@pytest.mark.parametrize("key", [REG, f"https://{REG}", f"http://{REG}", f"https://{REG}/v1/"])
def test_docker_config_auth(tmp_path: Path, key: str) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json", {"auths": {key: {"auth": _b64(f"alice:{PASSWORD}")}}}
    )
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG)
    assert creds is not None
    assert creds.username == "alice"
    assert creds.password == Secret(PASSWORD)
    assert str(config) in creds.source
    assert PASSWORD not in creds.source


def test_docker_config_password_may_contain_colons(tmp_path: Path) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json", {"auths": {REG: {"auth": _b64("alice:a:b:c")}}}
    )
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG)
    assert creds is not None
    assert creds.password == Secret("a:b:c")


@pytest.mark.parametrize(
    ("key", "user"),
    [
        pytest.param("other.example", "alice", id="other-registry-only"),
        pytest.param("https://index.docker.io/v1/", "hubuser", id="docker-hub-key"),
    ],
)
def test_docker_config_key_of_another_registry_is_not_used(
    tmp_path: Path, key: str, user: str
) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json",
        {"auths": {key: {"auth": _b64(f"{user}:{PASSWORD}")}}},
    )
    assert _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG) is None


def test_docker_config_identity_token(tmp_path: Path) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json",
        {
            "auths": {
                REG: {
                    "auth": _b64("00000000-0000-0000-0000-000000000000:"),
                    "identitytoken": TOKEN,
                }
            }
        },
    )
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG)
    assert creds is not None
    assert creds.identity_token == Secret(TOKEN)
    assert creds.username is None
    assert creds.basic_header() is None


def test_docker_config_username_password_fields(tmp_path: Path) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json",
        {"auths": {REG: {"username": "carol", "password": PASSWORD}}},
    )
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG)
    assert creds is not None
    assert (creds.username, creds.password) == ("carol", Secret(PASSWORD))


@pytest.mark.parametrize("key", ["https://index.docker.io/v1/", "index.docker.io", "docker.io"])
@pytest.mark.parametrize("registry", [HUB, "docker.io", "index.docker.io"])
def test_docker_hub_keys(tmp_path: Path, key: str, registry: str) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json", {"auths": {key: {"auth": _b64(f"hubuser:{PASSWORD}")}}}
    )
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(registry)
    assert creds is not None
    assert creds.username == "hubuser"


def test_cred_helpers(tmp_path: Path) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json",
        {"credHelpers": {REG: "ecr-login"}, "auths": {REG: {"auth": _b64("ignored:x")}}},
    )
    helper = HelperRecorder(
        {("ecr-login", REG): json.dumps({"Username": "AWS", "Secret": PASSWORD})}
    )
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}, helper).lookup(REG)
    assert creds is not None
    assert (creds.username, creds.password) == ("AWS", Secret(PASSWORD))
    assert creds.source == "docker-credential-ecr-login"
    assert helper.calls == [("ecr-login", REG)]


def test_cred_helper_token_username_means_identity_token(tmp_path: Path) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "acr"}})
    helper = HelperRecorder({("acr", REG): json.dumps({"Username": "<token>", "Secret": TOKEN})})
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}, helper).lookup(REG)
    assert creds is not None
    assert creds.identity_token == Secret(TOKEN)
    assert creds.username is None


def test_cred_helper_without_credentials(tmp_path: Path) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "pass"}})
    helper = HelperRecorder({})
    assert _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}, helper).lookup(REG) is None
    assert helper.calls == [("pass", REG)]


def test_creds_store_for_docker_hub(tmp_path: Path) -> None:
    config = _write_json(
        tmp_path / "docker" / "config.json",
        {"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"},
    )
    helper = HelperRecorder(
        {
            ("desktop", "https://index.docker.io/v1/"): json.dumps(
                {"Username": "hubuser", "Secret": PASSWORD}
            )
        }
    )
    store = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}, helper)
    creds = store.lookup(HUB)
    assert creds is not None
    assert (creds.username, creds.password) == ("hubuser", Secret(PASSWORD))
    assert helper.calls[0] == ("desktop", "https://index.docker.io/v1/")
    # cached: a second lookup runs no helper
    assert store.lookup(HUB) is creds
    assert len(helper.calls) == 1


def test_creds_store_tries_the_registry_keys(tmp_path: Path) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", {"credsStore": "osxkeychain"})
    helper = HelperRecorder(
        {("osxkeychain", f"https://{REG}"): json.dumps({"Username": "dave", "Secret": PASSWORD})}
    )
    creds = _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}, helper).lookup(REG)
    assert creds is not None
    assert creds.username == "dave"
    assert helper.calls == [("osxkeychain", REG), ("osxkeychain", f"https://{REG}")]


# -- containers auth.json -------------------------------------------------------------


def test_registry_auth_file_wins_over_docker_config(tmp_path: Path) -> None:
    auth_file = _write_json(
        tmp_path / "auth.json", {"auths": {REG: {"auth": _b64(f"podman:{PASSWORD}")}}}
    )
    docker = _write_json(
        tmp_path / "docker" / "config.json", {"auths": {REG: {"auth": _b64("docker:x")}}}
    )
    creds = _store(
        tmp_path, {"REGISTRY_AUTH_FILE": str(auth_file), "DOCKER_CONFIG": str(docker.parent)}
    ).lookup(REG)
    assert creds is not None
    assert creds.username == "podman"


@pytest.mark.parametrize(
    ("path", "env", "user"),
    [
        pytest.param("home/.docker/config.json", {}, "bob", id="docker-config-under-home"),
        pytest.param(
            "run/containers/auth.json",
            {"XDG_RUNTIME_DIR": "run"},
            "eve",
            id="xdg-runtime-dir-auth-json",
        ),
        pytest.param(
            "home/.config/containers/auth.json", {}, "frank", id="xdg-config-home-auth-json"
        ),
    ],
)
def test_auth_file_in_its_default_place(
    tmp_path: Path, path: str, env: dict[str, str], user: str
) -> None:
    """`path` and the directories `env` names are relative to tmp_path (HOME is home/)."""
    _write_json(tmp_path / path, {"auths": {REG: {"auth": _b64(f"{user}:{PASSWORD}")}}})
    creds = _store(tmp_path, {name: str(tmp_path / d) for name, d in env.items()}).lookup(REG)
    assert creds is not None
    assert creds.username == user


def test_docker_config_wins_over_containers_auth(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    _write_json(runtime / "containers" / "auth.json", {"auths": {REG: {"auth": _b64("p:x")}}})
    docker = _write_json(
        tmp_path / "docker" / "config.json", {"auths": {REG: {"auth": _b64("d:x")}}}
    )
    creds = _store(
        tmp_path, {"XDG_RUNTIME_DIR": str(runtime), "DOCKER_CONFIG": str(docker.parent)}
    ).lookup(REG)
    assert creds is not None
    assert creds.username == "d"


# -- malformed inputs never echo secrets ----------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            '{"auths": {"reg.example": {"auth": "' + _b64(f"u:{PASSWORD}"), id="truncated"
        ),
        pytest.param(f"auths: {PASSWORD}", id="yaml"),
        pytest.param(b"\xff\xfe" + PASSWORD.encode(), id="not-utf8"),
    ],
)
def test_malformed_config_file(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "docker" / "config.json"
    path.parent.mkdir()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(AuthError) as info:
        _store(tmp_path, {"DOCKER_CONFIG": str(path.parent)}).lookup(REG)
    assert str(path) in str(info.value)
    _assert_no_secret(info.value, PASSWORD, _b64(f"u:{PASSWORD}"))


def test_config_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "docker" / "config.json").mkdir(parents=True)
    with pytest.raises(InputFileError, match="directory"):
        _store(tmp_path, {"DOCKER_CONFIG": str(tmp_path / "docker")}).lookup(REG)


def test_config_file_not_an_object_is_ignored(tmp_path: Path) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", [PASSWORD])
    assert _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG) is None


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(PASSWORD + "!!", id="not-base64"),
        pytest.param(_b64(PASSWORD), id="no-colon"),
        pytest.param(base64.b64encode(b"\xff" + PASSWORD.encode()).decode(), id="not-utf8"),
    ],
)
def test_malformed_auth_entry(tmp_path: Path, auth: str) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", {"auths": {REG: {"auth": auth}}})
    with pytest.raises(AuthError) as info:
        _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG)
    _assert_no_secret(info.value, PASSWORD, auth)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(f"Username=u Secret={PASSWORD}", id="not-json"),
        pytest.param(json.dumps({"User": "u", "Pass": PASSWORD}), id="wrong-keys"),
        pytest.param(json.dumps([PASSWORD]), id="list"),
        pytest.param(json.dumps(PASSWORD), id="string"),
    ],
)
def test_unreadable_helper_answer(tmp_path: Path, answer: str) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "x"}})
    helper = HelperRecorder({("x", REG): answer})
    with pytest.raises(AuthError, match="docker-credential-x") as info:
        _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}, helper).lookup(REG)
    _assert_no_secret(info.value, PASSWORD)


def test_helper_answer_with_empty_secret_is_no_credentials(tmp_path: Path) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "x"}})
    helper = HelperRecorder({("x", REG): json.dumps({"Username": "u", "Secret": ""})})
    assert _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}, helper).lookup(REG) is None


# -- the real helper runner (a fake helper on PATH) ------------------------------------


def _install_helper(tmp_path: Path, name: str, script: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / f"docker-credential-{name}"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_real_helper_gets_server_on_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _install_helper(
        tmp_path,
        "fake",
        'read server\n[ "$1" = get ] || exit 3\n'
        f'printf \'{{"Username":"%s","Secret":"{PASSWORD}"}}\' "$server"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "fake"}})
    creds = CredentialStore(
        env={"HOME": str(tmp_path), "DOCKER_CONFIG": str(config.parent)}
    ).lookup(REG)
    assert creds is not None
    assert creds.username == REG  # the helper echoed what it read on stdin
    assert creds.password == Secret(PASSWORD)


def test_real_helper_not_found_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _install_helper(tmp_path, "empty", 'echo "credentials not found" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", str(bin_dir))
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "empty"}})
    store = CredentialStore(env={"HOME": str(tmp_path), "DOCKER_CONFIG": str(config.parent)})
    assert store.lookup(REG) is None


def test_missing_helper_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "nothere"}})
    store = CredentialStore(env={"HOME": str(tmp_path), "DOCKER_CONFIG": str(config.parent)})
    with pytest.raises(AuthError, match="docker-credential-nothere"):
        store.lookup(REG)


# -- property tests: the parsers end in a value or a TruedigestError --------------------------


_HEADER_ALPHABET = st.sampled_from(
    [*'Bearer Basic realm="https://a/t",service=\\ ,=\t"x', "\x00", "\u00e9", "\r", "\n"]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=_HEADER_ALPHABET)))
def test_parse_challenges_never_raises(header: str) -> None:
    for challenge in parse_challenges(header):
        assert challenge.scheme == challenge.scheme.lower()
        assert challenge.scheme
        assert all(isinstance(v, str) for v in challenge.params.values())


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["realm", "service", "scope"]),
        st.text(
            alphabet=st.characters(
                min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters='"\\'
            )
        ),
        min_size=1,
    )
)
def test_parse_challenges_round_trips_quoted_params(params: dict[str, str]) -> None:
    header = "Bearer " + ",".join(f'{k}="{v}"' for k, v in params.items())
    assert parse_challenges(header) == [Challenge("bearer", params)]


def test_parse_challenges_several() -> None:
    header = 'Basic realm="r", Bearer realm="https://a/t",service="s", Negotiate abc=='
    assert parse_challenges(header) == [
        Challenge("basic", {"realm": "r"}),
        Challenge("bearer", {"realm": "https://a/t", "service": "s"}),
        Challenge("negotiate", {}),
    ]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.builds(lambda d: json.dumps(d).encode(), _JSON),
        st.builds(
            lambda t, e: json.dumps({"token": t, "expires_in": e}).encode(),
            st.text(max_size=20),
            st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.none()),
        ),
    )
)
def test_parse_token_response_ends_in_a_value_or_a_truedigest_error(body: bytes) -> None:
    error: TruedigestError | None = None
    try:
        answer = parse_token_response(body, "tokens.example")
    except TruedigestError as exc:
        error = exc
    if error is not None:
        assert error.exit_code == ExitCode.UNAVAILABLE
        assert "\n" not in str(error)
        return
    value = answer.token.reveal()
    assert value
    assert all("!" <= c <= "~" for c in value)
    assert 60 <= answer.expires_in <= 2**31 - 1


@pytest.mark.parametrize(
    ("doc", "ok"),
    [
        ({"token": TOKEN}, True),
        ({"access_token": TOKEN, "expires_in": 300}, True),
        ({"token": TOKEN, "expires_in": 0}, True),
        ({"token": TOKEN, "expires_in": 10**400}, False),
        ({"token": TOKEN, "expires_in": -1}, False),
        ({"token": TOKEN, "expires_in": 1.5}, False),
        ({"token": TOKEN, "expires_in": "300"}, False),
        ({"token": TOKEN, "expires_in": True}, False),
        ({"token": TOKEN + "\r\n"}, False),
        ({"token": TOKEN + "\u00e9"}, False),
        ({"token": ""}, False),
    ],
)
def test_token_response_table(doc: dict[str, object], ok: bool) -> None:
    body = json.dumps(doc).encode()
    if ok:
        assert parse_token_response(body, "t").token.reveal() == TOKEN
    else:
        with pytest.raises(TruedigestError) as info:
            parse_token_response(body, "t")
        assert TOKEN not in str(info.value)


# -- the env credentials follow the command line ----------------------------------------------


@pytest.mark.parametrize(
    ("cli_registries", "host_var", "registry", "offered"),
    [
        ([REG], "", REG, True),
        ([REG], "", "evil.example:5000", False),
        ([], "", REG, False),
        (["docker.io"], "", HUB, True),
        ([REG], "evil.example:5000", "evil.example:5000", True),  # the explicit list wins
        ([REG], "evil.example:5000", REG, False),
    ],
)
def test_env_credentials_follow_the_command_line(
    tmp_path: Path, cli_registries: list[str], host_var: str, registry: str, offered: bool
) -> None:
    store = _store(
        tmp_path,
        {
            "TRUEDIGEST_REGISTRY_USERNAME": "ci",
            "TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD,
            "TRUEDIGEST_REGISTRY_HOST": host_var,
        },
    )
    store.restrict_env_to(cli_registries)
    assert (store.lookup(registry) is not None) is offered
    assert (store.withheld_hint(registry) is None) is offered


def test_helper_name_must_be_a_plain_name(tmp_path: Path) -> None:
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "../../x"}})
    with pytest.raises(AuthError, match="plain name"):
        _store(tmp_path, {"DOCKER_CONFIG": str(config.parent)}).lookup(REG)


def test_real_helper_is_bounded_by_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = _install_helper(tmp_path, "slow", "exec sleep 300\n")
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    config = _write_json(tmp_path / "docker" / "config.json", {"credHelpers": {REG: "slow"}})
    store = CredentialStore(
        env={"HOME": str(tmp_path), "DOCKER_CONFIG": str(config.parent)}, helper_timeout=0.2
    )
    with pytest.raises(AuthError, match=r"did not answer within 0\.2 s"):
        store.lookup(REG)


def test_basic_header_is_known_to_redact() -> None:
    from truedigest.base import redact

    creds = Credentials("test", "someone", Secret("s3cret-value"))
    header = creds.basic_header()
    assert header is not None
    assert redact.scrub(header) == "Basic ***"
