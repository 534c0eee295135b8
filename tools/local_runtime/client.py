"""HTTP sessions for clients that run in the local runtime's own process (the demo, load and fuzzing)."""

from __future__ import annotations

import requests


def local_session() -> requests.Session:
    """A Session that reads nothing from the environment (proxies, netrc, CA bundle). The runtime swaps
    os.environ for each invocation (`functions._environment`), and a client thread iterating it meanwhile
    can fail on a key cleared mid-iteration: the reliability test did, with KeyError 'AWS_CA_BUNDLE'."""
    session = requests.Session()
    session.trust_env = False
    return session
