"""`creative local up` serves the whole stack on this machine; `creative local fire <function>` runs a
schedule now, through the admin route of a running `up`."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time

import requests

from infra import catalog
from infra.paths import BUILD_DIR

SESSION_FILE = BUILD_DIR / "local" / "session.json"
EXAMPLE_IMAGE = "file.jpg"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="creative", description="Creative Engine developer commands.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request and deployment step")
    groups = parser.add_subparsers(required=True, metavar="{local}")
    local = groups.add_parser("local", help="run the stack on this machine (moto + in-process Lambdas)")
    commands = local.add_subparsers(required=True, metavar="{up,fire}")

    up = commands.add_parser("up", help="synthesize if stale, deploy into moto, serve until Ctrl-C")
    up.add_argument("--port", type=int, default=8000, help="API Gateway stand-in port (default 8000)")
    up.add_argument("--moto-port", type=int, default=5000, help="moto (AWS endpoint) port (default 5000)")
    up.add_argument(
        "--periodic-schedules", action="store_true", help="also fire rate() schedules on their period"
    )
    up.add_argument("--no-synth", action="store_true", help="use cdk.out as it is")
    up.set_defaults(run=_up)

    fire = commands.add_parser("fire", help="fire a function's schedule rule now")
    fire.add_argument("function", help="catalog name, e.g. compose_creatives")
    fire.set_defaults(run=_fire)
    return parser


def _up(args: argparse.Namespace) -> int:
    from local_runtime.runtime import LocalRuntime, write_session  # imports moto: only for `up`

    started = time.monotonic()
    if not args.no_synth:
        _synthesize()
    runtime = LocalRuntime(
        api_port=args.port, moto_port=args.moto_port, periodic_schedules=args.periodic_schedules
    )
    runtime.start()
    try:
        write_session(SESSION_FILE, runtime)
        print(
            banner(
                runtime.api_url,
                runtime.api_key,
                runtime.operator_key,
                runtime.endpoint_url,
                runtime.outputs,
                console_url=runtime.console_url,
            )
        )
        print(f"ready in {time.monotonic() - started:.1f}s; Ctrl-C stops (state is in memory only)")
        _wait_for_interrupt()
    finally:
        runtime.stop()
        SESSION_FILE.unlink(missing_ok=True)
    return 0


def _synthesize() -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from stack_build.synth import synthesize

    print("synthesizing the stack (cached while its sources are unchanged) ...", flush=True)
    synthesize()


def _wait_for_interrupt() -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()


def select_curl(api_url: str, api_key: str) -> str:
    """A POST /v1/select a reader can paste: the body the select handler's request model accepts."""
    body = json.dumps({"business_line": "food", "placement": "home_top", "user": {"id": "u-1"}})
    return (
        f"curl -s -X POST {api_url}v1/select -H 'x-api-key: {api_key}' "
        f"-H 'content-type: application/json' -d {shlex.quote(body)}"
    )


def upload_command(endpoint_url: str, bucket: str) -> str:
    return (
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 "
        f"aws s3 cp --endpoint-url {endpoint_url} {EXAMPLE_IMAGE} "
        f"s3://{bucket}/{catalog.UPLOAD_PREFIX}<business_line>/<category>/{EXAMPLE_IMAGE}"
    )


def banner(
    api_url: str,
    api_key: str,
    operator_key: str,
    endpoint_url: str,
    outputs: dict[str, str],
    *,
    console_url: str | None = None,
) -> str:
    bucket = outputs.get("UploadsBucketName", "<uploads bucket>")
    return "\n".join(
        [
            "",
            *(
                [f"  console           {console_url}   (sign in with the operator key below)"]
                if console_url
                else []
            ),
            f"  API (stage prod)  {api_url}",
            f"  API key           {api_key}   (x-api-key header: /v1/select, /v1/feedback)",
            f"  operator key      {operator_key}   (Authorization: Bearer <key>: /v1/materials, /v1/creatives;"
            " stands in for a console sign-in)",
            f"  AWS endpoint      {endpoint_url}   (moto: any credentials, region us-east-1)",
            f"  uploads bucket    {bucket}",
            "",
            "  Choose a creative:",
            f"    {select_curl(api_url, api_key)}",
            "  Upload an image (admission runs as soon as it lands):",
            f"    {upload_command(endpoint_url, bucket)}",
            "  See what admission decided:",
            f"    curl -s {api_url}v1/materials -H 'Authorization: Bearer {operator_key}'",
            "  Compose creatives now (instead of waiting for the schedule):",
            "    creative local fire compose_creatives",
            "",
        ]
    )


def _fire(args: argparse.Namespace) -> int:
    if not SESSION_FILE.is_file():
        print("no running `creative local up` found (start one first)", file=sys.stderr)
        return 1
    session = json.loads(SESSION_FILE.read_text())
    response = requests.post(
        f"{session['admin_url']}schedules/{args.function}",
        headers={"Authorization": f"Bearer {session['operator_key']}"},
        timeout=900,
    )
    print(json.dumps(response.json(), indent=2))
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
