"""The ``scenaria`` command: demo, scenario files, database migrations."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from scenaria.clock import FakeClock
from scenaria.demo.call_centre import CallCentre
from scenaria.demo.report import print_demo
from scenaria.demo.run import DemoResult, run_demo
from scenaria.errors import InvalidInput
from scenaria.model import scenario_file
from scenaria.model.nodes.base import ValidationContext
from scenaria.model.profiles import BUILTIN_FIELDS, FieldType
from scenaria.model.validation import validate
from scenaria.services.app import SECRET_ENV, App, Config, secret_from_env
from scenaria.store.database import Store, database_url

app = typer.Typer(help="Scenaria: customer-journey automation scenarios.", no_args_is_help=True)
scenario_app = typer.Typer(help="Scenario files.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(db_app, name="db")
console = Console()
errors = Console(stderr=True, soft_wrap=True)

SECRET_HOW = (
    "Set it to one long random value, the same for every process of the installation, "
    "e.g. `export SCENARIA_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')`."
)


def _require_secret(command: str) -> None:
    """Multi-process setups: without a shared secret each process would sign with its own
    random one, so a link made by a worker would be refused by the API server."""
    if secret_from_env() is None:
        errors.print(
            f"[bold red]`{command}` refuses to start: {SECRET_ENV} is not set.[/bold red] "
            "It signs the tracking, unsubscribe and double opt-in links in the messages; "
            "this command runs next to other Scenaria processes, and without one shared "
            "secret, links signed by one process would not verify in another. " + SECRET_HOW
        )
        raise typer.Exit(2)


def _warn_without_secret() -> None:
    """A single process still works without a secret, until it restarts."""
    if secret_from_env() is None:
        errors.print(
            f"[bold yellow]WARNING: {SECRET_ENV} is not set:[/bold yellow] a random secret, "
            "kept only in memory, signs the tracking, unsubscribe and double opt-in links "
            "in the messages sent; they stop working when this process restarts. " + SECRET_HOW
        )


@app.command()
def demo(
    profiles: Annotated[int, typer.Option(min=1, help="Synthetic profiles to import.")] = 1000,
    confirm_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of profiles that confirm their email.")
    ] = 0.4,
    seed: Annotated[int, typer.Option(help="Seed for who confirms and when.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    database: Annotated[
        str | None, typer.Option(help="Database URL (default: a new SQLite file in a temp dir).")
    ] = None,
) -> None:
    """Run the welcome scenario on synthetic profiles with an accelerated clock."""
    _warn_without_secret()
    with tempfile.TemporaryDirectory(prefix="scenaria-demo-") as tmp:
        store = Store(database or f"sqlite:///{Path(tmp) / 'demo.db'}")
        store.migrate()
        clock = FakeClock()
        with CallCentre() as call_centre:
            scenaria = App(Config(allowed_hosts=frozenset({"127.0.0.1"})), clock=clock, store=store)
            with scenaria:
                result = _run_with_progress(
                    scenaria, clock, profiles, confirm_share, seed, call_centre.url, quiet=as_json
                )
            result.call_requests = call_centre.received
    if as_json:
        print(json.dumps(_demo_json(result)))
    else:
        _print_demo(result)


def _run_with_progress(
    scenaria: App,
    clock: FakeClock,
    profiles: int,
    share: float,
    seed: int,
    url: str,
    quiet: bool,
) -> DemoResult:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, disable=quiet, transient=False) as progress:
        bars = {
            "import": progress.add_task("Importing profiles", total=profiles),
            "run": progress.add_task("Running 3 simulated days", total=1.0),
        }

        def report(phase: str, done: float, total: float) -> None:
            progress.update(bars[phase], completed=done, total=total)

        return run_demo(scenaria, clock, profiles, share, seed, url, report)


def _demo_json(result: DemoResult) -> dict[str, object]:
    return {
        "profiles": result.profiles,
        "confirmed": result.confirmed,
        "call_requests": result.call_requests,
        **result.stats,
    }


def _print_demo(result: DemoResult) -> None:
    print_demo(result, console)


def _field(spec: str) -> tuple[str, FieldType]:
    name, _, kind = spec.partition(":")
    try:
        return name, FieldType(kind or "string")
    except ValueError:
        raise typer.BadParameter(
            f"'{spec}': type must be one of {', '.join(t.value for t in FieldType)}"
        ) from None


@scenario_app.command("validate")
def validate_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="A profile field NAME:TYPE the scenario may use."),
    ] = None,
    pool: Annotated[
        list[str] | None, typer.Option("--pool", help="A promo code pool that exists.")
    ] = None,
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="A host API requests may call.")
    ] = None,
) -> None:
    """Print the scenario's validation problems; exit non-zero if there is any."""
    try:
        scenario = scenario_file.load(file, database_id=0)
    except InvalidInput as exc:
        errors.print(f"[red]{file}: {exc}[/red]")
        raise typer.Exit(2) from None
    fields = {**BUILTIN_FIELDS, **dict(_field(f) for f in field or [])}
    ctx = ValidationContext(
        fields=fields,
        promo_pools=frozenset(pool) if pool else None,
        allowed_hosts=frozenset(allow_host) if allow_host else None,
    )
    problems = validate(scenario, ctx)
    for problem in problems:
        errors.print(f"[red]{file}: {problem}[/red] ({problem.code})")
    if problems:
        raise typer.Exit(1)
    console.print(f"{file}: valid ({len(scenario.nodes)} nodes, {len(scenario.edges)} edges)")


@scenario_app.command("export")
def export(
    scenario_id: int,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml",
    database: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """Print a stored scenario as a YAML or JSON document."""
    with App(Config(database_url=database)) as scenaria:
        sys.stdout.write(scenaria.scenarios.export(scenario_id, fmt))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: Annotated[str | None, typer.Option(help="Database URL.")] = None,
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="A host API requests may call.")
    ] = None,
    worker: Annotated[
        bool,
        typer.Option(
            help="Run the engine in this process too (--no-worker needs SCENARIA_SECRET)."
        ),
    ] = True,
    resources: Annotated[
        Path | None,
        typer.Option(help="Subscription resources YAML (default: $SCENARIA_RESOURCES)."),
    ] = None,
    public_url: Annotated[
        str | None, typer.Option(help="Base URL of tracking links (default: this server).")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and run the engine alongside.

    With --no-worker, `scenaria worker` processes run the engine: SCENARIA_SECRET is
    then required, the same in every process.
    """
    if worker:
        _warn_without_secret()
    else:
        _require_secret("scenaria serve --no-worker")
    import uvicorn

    from scenaria.api.app import create_app

    store = Store(database)
    store.migrate()
    from scenaria.channels.resources import Resources

    scenaria = App(
        Config(
            database_url=database,
            allowed_hosts=frozenset(allow_host or ()),
            resources=Resources.load(resources),
            public_url=public_url or f"http://{host}:{port}",
        ),
        store=store,
    )
    with scenaria:
        uvicorn.run(create_app(scenaria, run_worker=worker), host=host, port=port, log_level="info")


@app.command("worker")
def worker_command(
    database: Annotated[str | None, typer.Option(help="Database URL.")] = None,
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="A host API requests may call.")
    ] = None,
    resources: Annotated[
        Path | None,
        typer.Option(help="Subscription resources YAML (default: $SCENARIA_RESOURCES)."),
    ] = None,
    public_url: Annotated[
        str, typer.Option(help="Base URL of tracking links: where `scenaria serve` is reached.")
    ] = "http://127.0.0.1:8000",
    batch_size: Annotated[int, typer.Option(min=1, help="Tasks claimed per transaction.")] = 1000,
    idle: Annotated[float, typer.Option(min=0.01, help="Seconds to sleep when idle.")] = 0.2,
    schedule: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Advance due tasks.")
    ] = True,
    deliver: Annotated[
        bool, typer.Option("--deliverer/--no-deliverer", help="Deliver due messages.")
    ] = True,
    batch_lease: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="PostgreSQL: seconds a worker's batch transaction may sit idle (the worker "
            "hangs) before the batch is taken from it for another worker.",
        ),
    ] = 300.0,
    clock_file: Annotated[Path | None, typer.Option("--test-clock-file", hidden=True)] = None,
    hold_before_commit: Annotated[
        Path | None, typer.Option("--test-hold-before-commit", hidden=True)
    ] = None,
    hold_after_send: Annotated[
        Path | None, typer.Option("--test-hold-after-send", hidden=True)
    ] = None,
) -> None:
    """Run the engine alone: advance due tasks and deliver due messages until SIGTERM.

    Any number of workers may share one PostgreSQL database.
    Run `scenaria db upgrade` first; give every process the same SCENARIA_SECRET
    (required). The scheduler and the deliverer run in threads of their own.
    """
    _require_secret("scenaria worker")
    import logging
    import os

    from scenaria.channels.resources import Resources
    from scenaria.clock import Clock, FileClock, SystemClock
    from scenaria.services.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request sent
    # Hidden test options: a clock the test advances from outside, and hooks that
    # hold the worker at a known point of a batch until it is stopped or killed.
    clock: Clock = FileClock(clock_file) if clock_file else SystemClock()
    scenaria = App(
        Config(
            database_url=database,
            allowed_hosts=frozenset(allow_host or ()),
            resources=Resources.load(resources),
            public_url=public_url,
            batch_size=batch_size,
        ),
        clock=clock,
        store=Store(database, batch_lease=batch_lease),
    )
    with scenaria:
        worker = Worker(scenaria, idle, schedule=schedule, deliver=deliver)
        if hold_before_commit:
            scenaria.scheduler.before_commit = worker.hold(hold_before_commit)
        if hold_after_send:
            scenaria.deliverer.after_send = worker.hold(hold_after_send)
        worker.stop_on_signals()
        errors.print(f"worker {os.getpid()} started")
        worker.run()
    done = worker.done
    print(
        f"worker {os.getpid()} stopped: {done.tasks} tasks in {done.task_batches} batches, "
        f"{done.messages} messages, {done.failed_batches} failed batches",
        flush=True,
    )


token_app = typer.Typer(help="API users and tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="The user the token belongs to.")],
    group: Annotated[
        list[str] | None, typer.Option("--group", help="A group of a new user (repeatable).")
    ] = None,
    admin: Annotated[bool, typer.Option(help="A new user is an admin (sees all).")] = False,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "api",
    database: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """Create a token (and its user if new); the token is printed once, stored hashed."""
    from scenaria.errors import NotFound

    store = Store(database)
    store.migrate()
    with App(Config(database_url=database), store=store) as scenaria:
        try:
            with scenaria.store.read() as tx:
                tx.access.user_by_name(user)
        except NotFound:
            scenaria.access.create_user(user, group or [], is_admin=admin)
        issued = scenaria.access.issue_token(user, name)
    console.print(f"token {issued.id} for {issued.user.name}:")
    print(issued.token)


@token_app.command("revoke")
def token_revoke(
    token_id: int,
    database: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """Revoke a token; it stops working at once."""
    with App(Config(database_url=database)) as scenaria:
        if not scenaria.access.revoke(token_id):
            errors.print(f"[red]token {token_id} does not exist or is already revoked[/red]")
            raise typer.Exit(1)
    console.print(f"token {token_id} revoked")


@db_app.command("upgrade")
def upgrade(database: Annotated[str | None, typer.Option(help="Database URL.")] = None) -> None:
    """Create or migrate the database schema to the latest version."""
    Store(database).migrate()
    console.print(f"database at {database_url(database)} is up to date")


if __name__ == "__main__":
    app()
