"""The ``orchestrator`` command: a thin shell over the library and `service`.

Each subcommand is one function ``cmd_<name>(args) -> int`` (its exit status) registered in
`build_parser`, with an example in its ``--help``. Errors a user can cause are printed as one
readable line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from orchestrator import __version__
from orchestrator.cli import observability
from orchestrator.cli.common import (
    ActionError,
    UsageError,
    add_command,
    ensure_schema,
    open_service,
    parse_json_argument,
    print_json,
    quiet_celery,
    read_text,
    safe_url,
    service_call,
    show_time,
    silence_stdout,
)
from orchestrator.cli.embedded import refuse_without_broker, state_help
from orchestrator.cli.unreachable import database_problem
from orchestrator.integrations.registry import HandlerModuleNotFound

# -- validate --------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    """Each file on its own: one that cannot be read is reported and the others are still checked."""
    from orchestrator.asl.parse import validate

    reports = []
    for path in args.files:
        try:
            diagnostics = validate(read_text(path))
        except UsageError as exc:
            reports.append((path, None, str(exc)))
            continue
        reports.append((path, diagnostics, None))
    failed = any(
        problem or any(d.severity == "ERROR" for d in diagnostics or []) for _, diagnostics, problem in reports
    )
    if args.json:
        out = [_validation_json(path, diagnostics, problem) for path, diagnostics, problem in reports]
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return 1 if failed else 0
    for path, diagnostics, problem in reports:
        if problem is not None:
            print(f"orchestrator validate: {problem}", file=sys.stderr)
            continue
        errors = [d for d in diagnostics or [] if d.severity == "ERROR"]
        if not diagnostics:
            print(f"{path}: OK")
            continue
        print(f"{path}: {f'{len(errors)} error(s)' if errors else 'OK with warnings'}")
        for d in diagnostics:
            print(f"  {d.severity:<7} {d.location or '/'}: {d.message} [{d.code}]")
    return 1 if failed else 0


def _validation_json(path: str, diagnostics: list[Any] | None, problem: str | None) -> dict[str, Any]:
    """ValidateStateMachineDefinition's result shape, with the file it is about."""
    if problem is not None:
        return {
            "file": path,
            "result": "FAIL",
            "truncated": False,
            "diagnostics": [{"severity": "ERROR", "code": "MISSING_DESCRIPTION", "message": problem, "location": ""}],
        }
    errors = any(d.severity == "ERROR" for d in diagnostics or [])
    return {
        "file": path,
        "result": "FAIL" if errors else "OK",
        "truncated": False,
        "diagnostics": [d.to_json() for d in diagnostics or []],
    }


# -- the durable runtime -----------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace, celery_args: list[str]) -> int:
    from orchestrator import config

    settings = config.load()
    refuse_without_broker("worker", settings)
    # before the runtime loads prometheus-client and Celery sets up its logging
    observability.prepare_worker(settings.log_format, args.metrics_port)
    from orchestrator.integrations import registry
    from orchestrator.runtime.app import app

    registry.load_modules(settings.handler_modules)
    observability.start_worker_metrics(args.metrics_port, args.metrics_host)
    queues = args.queues or f"{settings.engine_queue},{settings.handler_queue}"
    argv = ["worker", "--queues", queues, "--loglevel", args.loglevel, *celery_args]
    app.worker_main(argv=argv)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    import signal
    import threading

    from orchestrator import config
    from orchestrator.runtime.app import app
    from orchestrator.runtime.scheduler import Scheduler

    settings = config.load()
    refuse_without_broker("scheduler", settings)
    observability.setup_logs(settings.log_format, logging.INFO)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"orchestrator scheduler: firing timers in {safe_url(settings.database_url)}", flush=True)
    settings.scheduler_heartbeat.parent.mkdir(parents=True, exist_ok=True)
    Scheduler(app, settings, tick=args.tick).run_forever(stop, heartbeat=settings.scheduler_heartbeat)
    return 0


HEARTBEAT_STALE_SECONDS = 30.0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when healthy: the probe of a worker, a scheduler or anything that needs the database and broker."""
    import socket
    import time

    from orchestrator import config
    from orchestrator.runtime.app import app
    from orchestrator.service import Service

    settings = config.load()
    report = Service(settings, app).health()
    if args.worker is not None:
        name = args.worker or f"celery@{socket.gethostname()}"
        answers = app.control.ping(destination=[name], timeout=args.timeout) if report["status"] == "ok" else []
        report["worker"] = {"name": name, "status": "ok" if answers else "not answering"}
        if not answers:
            report["status"] = "degraded"
    if args.scheduler:
        try:
            age = time.time() - settings.scheduler_heartbeat.stat().st_mtime
            fresh = age <= HEARTBEAT_STALE_SECONDS
            report["scheduler"] = {"status": "ok" if fresh else "stale", "secondsSinceTick": round(age, 1)}
        except FileNotFoundError:
            fresh = False
            report["scheduler"] = {"status": "no heartbeat", "file": str(settings.scheduler_heartbeat)}
        if not fresh:
            report["status"] = "degraded"
    if args.json:
        print_json(report)
    else:
        for part, detail in report.items():
            if isinstance(detail, dict):
                print(f"{part}: {detail.get('status')}" + (f" ({detail['error']})" if detail.get("error") else ""))
        print(f"overall: {report['status']}")
    return 0 if report["status"] == "ok" else 1


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator import config
    from orchestrator.api.app import create_app
    from orchestrator.api.protocol import HTTP_PROTOCOL
    from orchestrator.integrations import registry

    settings = config.load()
    if args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    if args.workers > 1 and settings.embedded_broker:
        raise UsageError(
            "--workers above 1 needs a broker that the processes share: set ORCHESTRATOR_BROKER_URL "
            "(redis://... or amqp://...)"
        )
    registry.load_modules(settings.handler_modules)
    host = args.host
    if host is None:
        host = "0.0.0.0" if settings.api_keys else "127.0.0.1"
    elif not settings.api_keys and host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"orchestrator serve: warning: no access keys are configured (ORCHESTRATOR_API_KEYS), yet the API "
            f"listens on {host}: anyone who reaches it can use it",
            file=sys.stderr,
        )
    if settings.is_sqlite:
        ensure_schema(settings)
    if args.workers > 1:
        observability.share_metrics_between_processes()
    runtime = None
    if settings.embedded_broker:
        from orchestrator.runtime.app import app
        from orchestrator.runtime.embedded import EmbeddedRuntime

        quiet_celery()
        runtime = EmbeddedRuntime(app, settings).start()
    print(
        f"orchestrator serve: listening on http://{host}:{args.port} "
        f"({'signed requests only' if settings.api_keys else 'no authentication'}"
        f"{f', {args.workers} processes' if args.workers > 1 else ''})\n"
        f"orchestrator serve: the console is at {console_url(host, args.port)}",
        flush=True,
    )
    try:
        # The console's live pages hold streams open: on Ctrl-C, close them after 2 s rather than wait.
        options = {
            "host": host,
            "port": args.port,
            "log_level": args.log_level,
            "access_log": args.access_log,
            "timeout_graceful_shutdown": 2,
            # uvicorn's HTTP/1.1 with what it refuses itself answered in AWS's error shape; no
            # WebSocket upgrades (nothing here speaks WebSocket), so every request reaches the app.
            "http": HTTP_PROTOCOL,
            "ws": "none",
        }
        if settings.log_format != "text":  # uvicorn's loggers then write through ours
            observability.setup_logs(settings.log_format, args.log_level.upper())
            options["log_config"] = None
        if args.workers > 1:
            # Each process builds its own app (and loads the handler modules) from the environment.
            uvicorn.run("orchestrator.api.app:app_factory", factory=True, workers=args.workers, **options)
        else:
            uvicorn.run(create_app(), **options)
    finally:
        if runtime is not None:
            runtime.stop()
    return 0


def console_url(host: str, port: int) -> str:
    """Where a browser on this machine finds the console (a wildcard bind is reached on loopback)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/console/"


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from orchestrator import config
    from orchestrator.store.migrate import current_revision, pending, upgrade

    settings = config.load()
    to_apply = pending(settings.database_url)
    upgrade(settings.database_url)
    where = safe_url(settings.database_url)
    if not to_apply:
        print(f"already up to date (revision {current_revision(settings.database_url)}): {where}")
        return 0
    print(f"applied {len(to_apply)} migration(s) to {where}:")
    for revision, summary in to_apply:
        print(f"  {revision}  {summary}")
    return 0


def cmd_db_check(args: argparse.Namespace) -> int:
    """Exit 0 when the schema is at the newest migration (for an init container waiting on the migration)."""
    from orchestrator import config
    from orchestrator.store.migrate import is_current

    settings = config.load()
    if is_current(settings.database_url):
        print(f"database schema is up to date: {safe_url(settings.database_url)}")
        return 0
    print(f"database schema is behind: run `orchestrator db upgrade` ({safe_url(settings.database_url)})")
    return 1


def cmd_send_task_success(args: argparse.Namespace) -> int:
    output = parse_json_argument(args.output, "--output")
    service_call(lambda: open_service().send_task_success(args.token, json.dumps(output)))
    print("task completed")
    return 0


def cmd_send_task_failure(args: argparse.Namespace) -> int:
    service_call(lambda: open_service().send_task_failure(args.token, error=args.error, cause=args.cause))
    print("task failed")
    return 0


def cmd_send_task_heartbeat(args: argparse.Namespace) -> int:
    service_call(lambda: open_service().send_task_heartbeat(args.token))
    print("heartbeat recorded")
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    tokens = open_service().pending_tokens()
    if args.json:
        print_json(tokens)
        return 0
    if not tokens:
        print("no task is waiting for a token")
    for token in tokens:
        print(f"{show_time(token['since'])}  {token['stateName']}  {token['executionArn']}")
        print(f"    token: {token['token']}")
        if token.get("payload") is not None:
            print(f"    message: {json.dumps(token['payload'])[:300]}")
    return 0


# -- the parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="A durable, AWS Step Functions-compatible workflow engine.",
        epilog=f"example:\n  orchestrator validate workflow.asl.json\n\n{state_help()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"orchestrator {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    validate = add_command(
        subparsers,
        "validate",
        cmd_validate,
        "Check state machine definitions and print every problem with its location.",
        "orchestrator validate workflow.asl.json other.asl.json --json",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="ASL definition files (JSON); - reads stdin")
    validate.add_argument(
        "--json",
        action="store_true",
        help="print ValidateStateMachineDefinition's result shape instead of text",
    )

    from orchestrator.cli import run

    run.register(subparsers)

    worker = add_command(
        subparsers,
        "worker",
        cmd_worker,
        "Run a Celery worker for the engine and the handlers (Celery's own worker options pass through).",
        "orchestrator worker --concurrency 4 --queues orchestrator,orchestrator.handlers",
    )
    worker.add_argument("--queues", "-Q", help="queues to consume (default: the engine's and the handlers')")
    worker.add_argument("--loglevel", "-l", default="INFO", help="log level (default: INFO)")
    worker.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics of this worker and its pool processes on this port"
    )
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address of --metrics-port (default 127.0.0.1)")

    serve = add_command(
        subparsers,
        "serve",
        cmd_serve,
        "Serve the AWS Step Functions API (boto3, the AWS CLI and every AWS SDK work with --endpoint-url), "
        "the web console (/console/: graphs, executions, approvals) and Prometheus metrics (/metrics).",
        "orchestrator serve --port 8083   # then open http://127.0.0.1:8083/console/, or: "
        "aws stepfunctions list-state-machines --endpoint-url http://127.0.0.1:8083",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 when access keys are set)")
    serve.add_argument("--port", type=int, default=8083, help="port (default 8083)")
    serve.add_argument("--log-level", default="warning", help="uvicorn's log level (default warning)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (default 1); more than one needs a broker (ORCHESTRATOR_BROKER_URL). "
        "One process answers about 400 StartExecution/s per core",
    )

    scheduler = add_command(
        subparsers,
        "scheduler",
        cmd_scheduler,
        "Fire due timers (Wait, Retry, timeouts) and republish lost messages.",
        "orchestrator scheduler",
    )
    scheduler.add_argument("--tick", type=float, default=0.25, help="seconds between checks when idle (default 0.25)")

    health = add_command(
        subparsers,
        "health",
        cmd_health,
        "Check the database and the broker (and a worker or the scheduler); exit 0 when healthy. "
        "Use it as a readiness or liveness probe.",
        "orchestrator health --worker celery@$(hostname) --json",
    )
    health.add_argument(
        "--worker", nargs="?", const="", metavar="NAME", help="also ping a worker by name (default: celery@<this host>)"
    )
    health.add_argument("--scheduler", action="store_true", help="also check the scheduler's heartbeat is fresh")
    health.add_argument(
        "--timeout", type=float, default=2.0, help="seconds to wait for a worker's answer (default 2.0)"
    )
    health.add_argument("--json", action="store_true", help="print the report as JSON")

    db = subparsers.add_parser(
        "db",
        help="Manage the database schema.",
        description="Manage the database schema.",
        epilog="example:\n  orchestrator db upgrade   # apply the migrations this version needs, and list them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    add_command(
        db_commands,
        "check",
        cmd_db_check,
        "Exit 0 if the schema is at the newest migration, 1 if `db upgrade` is needed.",
        "orchestrator db check",
    )
    add_command(
        db_commands,
        "upgrade",
        cmd_db_upgrade,
        "Apply every migration (the same as `alembic upgrade head`) and list those it applied, or say the "
        "schema was already up to date.",
        "ORCHESTRATOR_DATABASE_URL=postgresql+psycopg://localhost/orchestrator orchestrator db upgrade",
    )

    success = add_command(
        subparsers,
        "send-task-success",
        cmd_send_task_success,
        "Complete a task that waits on a task token, with its output.",
        "orchestrator send-task-success TOKEN --output '{\"approved\": true}'",
    )
    success.add_argument("token", metavar="TOKEN")
    success.add_argument("--output", required=True, help="the task's result: JSON, or @file")
    failure = add_command(
        subparsers,
        "send-task-failure",
        cmd_send_task_failure,
        "Fail a task that waits on a task token.",
        "orchestrator send-task-failure TOKEN --error Rejected --cause 'limit too high'",
    )
    failure.add_argument("token", metavar="TOKEN")
    failure.add_argument("--error", help="the error name (Retry and Catch match on it)")
    failure.add_argument("--cause", help="a longer explanation")
    heartbeat = add_command(
        subparsers,
        "send-task-heartbeat",
        cmd_send_task_heartbeat,
        "Report that the work behind a task token is still going (resets HeartbeatSeconds).",
        "orchestrator send-task-heartbeat TOKEN",
    )
    heartbeat.add_argument("token", metavar="TOKEN")

    tokens = subparsers.add_parser(
        "tokens",
        help="Tasks waiting on task tokens.",
        description="Tasks waiting on task tokens.",
        epilog="example:\n  orchestrator tokens list\n"
        "  orchestrator send-task-success TOKEN --output '{}'   # answer one of them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tk_commands = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True)
    tk_list = add_command(
        tk_commands,
        "list",
        cmd_tokens_list,
        "List every task waiting on a task token: state, since when, the message that carried it.",
        "orchestrator tokens list --json",
    )
    tk_list.add_argument("--json", action="store_true", help="print as JSON")

    from orchestrator.cli import events, executions, machines, tables, topics

    executions.register(subparsers)
    machines.register(subparsers)

    tables.register(subparsers)
    topics.register(subparsers)
    from orchestrator.cli import buckets

    buckets.register(subparsers)
    events.register(subparsers)
    from orchestrator.cli import queues

    queues.register(subparsers)
    from orchestrator.cli import prune

    prune.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if extra and args.func is not cmd_worker:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.func not in (cmd_worker, cmd_serve, cmd_scheduler):
            observability.setup_cli_logs()
        if args.func is cmd_worker:
            return cmd_worker(args, extra)
        return int(args.func(args))
    except UsageError as exc:
        print(f"{args.command_name}: {exc}", file=sys.stderr)
        return 2
    except ActionError as exc:
        print(f"{args.command_name}: {exc}", file=sys.stderr)
        return 1
    except HandlerModuleNotFound as exc:
        print(f"{args.command_name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... --json | head`): no traceback, and the status a shell gives a
        # command that SIGPIPE ended.
        silence_stdout()
        return 141
    except Exception as exc:  # last: the clauses above handle their own kinds
        problem = database_problem(exc)
        if problem is None:
            raise
        print(f"{args.command_name}: {problem}", file=sys.stderr)
        return 1
