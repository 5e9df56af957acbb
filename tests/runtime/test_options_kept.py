"""What ``AgentOptions`` keeps from client to client (endpoint, limits, settings, log secrets)
follows what it is made from: the environment's values, the options, the working directory."""

from __future__ import annotations

import os
import pathlib

import attrs
import pytest

from anyagent_httpx import AgentOptions, Client, ConfigurationError, FallbackEndpoint


def test_the_endpoint_follows_the_environment_values_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    options = AgentOptions(model="m")
    env = {"ANY_AGENT_BASE_URL": "http://one:1/v1", "ANY_AGENT_API_KEY": "key-one"}
    first = options.endpoint(env)
    assert (first.base_url, first.api_key) == ("http://one:1/v1", "key-one")
    assert options.endpoint(dict(env)) is first  # the same values: the endpoint kept
    env["ANY_AGENT_API_KEY"] = "key-two"
    assert options.endpoint(env).api_key == "key-two"
    env["ANY_AGENT_BASE_URL"] = "http://two:2/v1/"
    assert options.endpoint(env).base_url == "http://two:2/v1"
    del env["ANY_AGENT_API_KEY"]
    assert options.endpoint(env).api_key is None
    del env["ANY_AGENT_BASE_URL"]
    with pytest.raises(ConfigurationError, match="no base URL"):
        options.endpoint(env)
    # os.environ, read on every call
    monkeypatch.setenv("ANY_AGENT_BASE_URL", "http://three:3/v1")
    monkeypatch.setenv("ANY_AGENT_API_KEY", "key-three")
    assert (options.endpoint().base_url, options.endpoint().api_key) == ("http://three:3/v1", "key-three")
    monkeypatch.setenv("ANY_AGENT_API_KEY", "key-four")
    assert options.endpoint().api_key == "key-four"
    # options given win over the environment, which then does not matter
    given = AgentOptions(model="m", base_url="http://given:1/v1", api_key="key-given")
    assert given.endpoint(env).base_url == "http://given:1/v1"
    assert given.endpoint({"ANY_AGENT_BASE_URL": "http://x:1/v1", "ANY_AGENT_API_KEY": "k"}).api_key == "key-given"
    # other options, other endpoint
    other = attrs.evolve(given, extra_headers={"X-Team": "a"})
    assert other.endpoint().headers == (("X-Team", "a"),) and given.endpoint().headers == ()


def test_a_bad_base_url_fails_on_every_call_not_only_the_first() -> None:
    options = AgentOptions(model="m")
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="must start with http"):
            options.endpoint({"ANY_AGENT_BASE_URL": "ftp://nope"})
    assert options.endpoint({"ANY_AGENT_BASE_URL": "http://ok:1/v1"}).base_url == "http://ok:1/v1"


def test_limits_and_fallback_endpoints_are_the_options_own() -> None:
    options = AgentOptions(
        model="m",
        base_url="http://a:1/v1",
        request_timeout=5.0,
        fallback_endpoints=[FallbackEndpoint(base_url="http://b:1/v1", model="n", api_key="key-b")],
    )
    assert options.stream_limits() is options.stream_limits()
    assert options.stream_limits().request_timeout == 5.0
    changed = attrs.evolve(options, request_timeout=7.0, max_tool_calls=3)
    assert (changed.stream_limits().request_timeout, changed.stream_limits().max_tool_calls) == (7.0, 3)
    assert options.stream_limits().request_timeout == 5.0
    (fallback,) = options.fallback_endpoint_list()
    assert options.fallback_endpoint_list() is options.fallback_endpoint_list()
    assert (fallback.base_url, fallback.api_key) == ("http://b:1/v1", "key-b")
    assert attrs.evolve(options, fallback_endpoints=[]).fallback_endpoint_list() == ()


def test_the_settings_working_directory_follows_chdir_and_symlinks(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = AgentOptions(model="m")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    link = tmp_path / "link"
    link.symlink_to(one, target_is_directory=True)
    seen = []
    for place in (one, two, link, one):
        monkeypatch.chdir(place)
        cwd = options.loop_settings("m", ()).permissions.cwd
        assert cwd == os.path.realpath(os.getcwd()) == str(place.resolve())
        seen.append(cwd)
    assert seen[2] == seen[0] != seen[1]
    # the working directory is the directory the process went into, wherever the link points now
    monkeypatch.chdir(link)
    link.unlink()
    link.symlink_to(two, target_is_directory=True)
    assert options.loop_settings("m", ()).permissions.cwd == os.path.realpath(os.getcwd()) == str(one.resolve())
    monkeypatch.chdir(link)
    assert options.loop_settings("m", ()).permissions.cwd == str(two.resolve())
    # a cwd given: resolved on every call, so a link re-pointed is followed
    given = attrs.evolve(options, cwd=str(link))
    assert given.loop_settings("m", ()).permissions.cwd == str(two.resolve())
    link.unlink()
    link.symlink_to(one, target_is_directory=True)
    assert given.loop_settings("m", ()).permissions.cwd == str(one.resolve())


@pytest.mark.anyio
async def test_each_client_scrubs_the_secrets_of_its_own_endpoint() -> None:
    options = AgentOptions(
        model="m", fallback_endpoints=[FallbackEndpoint(base_url="http://b:1/v1", model="n", api_key="fallback-key-1")]
    )
    secrets = []
    for key in ("first-key-123456", "first-key-123456", "second-key-654321"):
        env = {"ANY_AGENT_BASE_URL": "http://a:1/v1", "ANY_AGENT_API_KEY": key}
        async with Client(options, env=env) as client:
            driver = client._driver
            assert driver is not None
            scrub = driver.scrubber()
            assert scrub(f"got {key} and fallback-key-1") == "got <redacted> and <redacted>"
            secrets.append(scrub.secrets)
    assert secrets[0] == secrets[1]
    assert "second-key-654321" in secrets[2] and "first-key-123456" not in secrets[2]


def test_what_is_kept_is_not_shown_by_repr() -> None:
    """The kept values hold the API keys (the options', the fallbacks', the environment's read):
    a repr of the record (in a traceback's locals, a debugger) names only what is kept."""
    from anyagent_httpx._options import _derived

    options = AgentOptions(
        model="m",
        fallback_endpoints=[FallbackEndpoint(base_url="http://b:1/v1", model="n", api_key="sk-fallback-0123456789")],
    )
    options.endpoint({"ANY_AGENT_BASE_URL": "http://a:1/v1", "ANY_AGENT_API_KEY": "sk-environment-0123456789"})
    options.fallback_endpoint_list()
    options.loop_settings("m", ())
    text = repr(_derived(options))
    assert "sk-environment" not in text and "sk-fallback" not in text
    assert text.startswith("_Derived(kept=[") and "endpoint" in text and "settings" in text
