"""What the `fulfillment` commands share (cli.py): finding the servers (the dev stack's file
in dev), one read of PostgreSQL, tables, progress bars, and a server that does not answer
said in one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from sqlmodel.ext.asyncio.session import AsyncSession

# A command whose servers do not answer (a dev stack gone, its file left behind by a crash;
# a server down) did nothing.
EXIT_NO_DEV_STACK = 3
EXIT_NOT_FOUND = 1


def servers(ctx: typer.Context) -> None:
    """Take the unset server variables from the running dev stack, and say which servers this
    command talks to (dev only: outside dev the file is never read and nothing is said)."""
    from models.settings import DEV_ENVS

    if os.environ.get("FULFILLMENT_ENV", "dev") not in DEV_ENVS:
        return  # production images carry no devstack/ (Dockerfile)
    from devstack import stack_file

    folder = stack_file.data_dir_of(os.environ, ctx.obj)
    try:
        chosen = stack_file.use(os.environ, folder)
    except stack_file.DevStackNotRunning as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(EXIT_NO_DEV_STACK) from None
    if chosen is not None:
        typer.echo(stack_file.describe(chosen, os.environ), err=True)


def api_url(ctx: typer.Context) -> str:
    """The API a command calls over HTTP: FULFILLMENT_API_URL, else in dev the running dev
    stack's (its file), else the default port on this machine."""
    if os.environ.get("FULFILLMENT_API_URL"):
        return os.environ["FULFILLMENT_API_URL"].rstrip("/")
    from models.settings import DEV_ENVS

    if os.environ.get("FULFILLMENT_ENV", "dev") in DEV_ENVS:
        from devstack import stack_file

        found = stack_file.read(stack_file.data_dir_of(os.environ, ctx.obj))
        if found is not None:
            return found.api_url.rstrip("/")
    return "http://127.0.0.1:8000"


T = TypeVar("T")


def read(ctx: typer.Context, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One read of PostgreSQL, on the servers this command was given."""
    servers(ctx)
    import asyncio

    from models.settings import get_settings
    from stores.db import make_engine, make_sessionmaker

    async def run() -> T:
        engine = make_engine(get_settings().database_url, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                return await query(session)
        finally:
            await engine.dispose()

    with unreachable_servers_said():
        return asyncio.run(run())


def console() -> Console:
    from rich.console import Console

    # Piped (a file, grep): wide enough that ids are never folded over two lines.
    return Console() if sys.stdout.isatty() else Console(width=240, no_color=True)


@contextmanager
def progress(what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise (scripts, tests)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


@contextmanager
def unreachable_servers_said() -> Iterator[None]:
    """A server that does not answer is one line on stderr and exit 3, not a traceback."""
    from sqlalchemy.exc import OperationalError

    from providers.errors import ProviderUnavailableError
    from temporal.client import TemporalUnreachableError

    try:
        yield
    except (OperationalError, ProviderUnavailableError, TemporalUnreachableError) as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        typer.echo(f"a server does not answer (see which above): {first}", err=True)
        raise typer.Exit(EXIT_NO_DEV_STACK) from None


def exit_after_temporal(code: int) -> NoReturn:
    """End a command that used a Temporal client without the interpreter's finalization.

    The SDK's core runs threads of its own that outlive the client; one calling back into
    Python while the interpreter shuts down aborts the process (PyGILState_Release, exit
    134, DESIGN.md) after the command has done its work and said so: a script reading the
    exit code would see a crash. Everything the command writes is flushed first."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
