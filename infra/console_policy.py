"""What the operator console's pages may do, for CloudFront (infra/constructs/console.py) and the local runtime.

One definition, so a page that works locally is held to the policy it meets on AWS. Plain data: the local
runtime imports it without aws_cdk.
"""

from __future__ import annotations

from collections.abc import Sequence

# Where the console's files are served from locally (CloudFront serves them from the distribution's root).
LOCAL_CONSOLE_PATH = "/console/"
# The file the console reads at start: where the API is and how to sign in.
CONFIG_FILE = "config.json"
HSTS_MAX_AGE_S = 2 * 365 * 24 * 3600


def content_security_policy(*, connect: Sequence[str], images: Sequence[str]) -> str:
    """Scripts, styles and frames only from the console's own origin; `connect` adds the origins the page
    calls (S3 uploads, Cognito), `images` those it shows images from (signed S3 URLs)."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *images],
        "connect-src": ["'self'", *connect],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def security_headers(csp: str) -> list[tuple[str, str]]:
    """The headers CloudFront's response-headers policy adds, as the local runtime sends them."""
    return [
        ("Content-Security-Policy", csp),
        ("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE_S}; includeSubDomains"),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]
