"""Clients in the local runtime's process must not read os.environ, which the runtime swaps per invocation."""

import requests
from local_runtime.client import local_session

URL = "http://api.example.invalid/v1/select"


def test_a_local_session_reads_no_proxy_or_ca_bundle_from_the_environment(monkeypatch):
    # Given an environment with a proxy and a CA bundle (no proxy exemptions)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    # When a plain session and a local one settle a request's settings
    plain = requests.Session().merge_environment_settings(URL, {}, None, None, None)
    local = local_session().merge_environment_settings(URL, {}, None, None, None)
    # Then the plain one read both from the environment and the local one read neither
    assert plain["proxies"].get("http") == "http://proxy.example.invalid:3128"
    assert plain["verify"] == "/nonexistent/ca.pem"
    assert local["proxies"] == {} and local["verify"] is True
