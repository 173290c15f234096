"""The `--engine local|dask`, `--scheduler` and `--workers` options shared by `transit` and `locate`."""

from __future__ import annotations

from typing import Annotated

import typer

from overflight.errors import InputError

__all__ = ["EngineOpt", "SchedulerOpt", "WorkersOpt", "check_engine"]

EngineOpt = Annotated[str, typer.Option("--engine", metavar="ENGINE",
                                        help="local (this process, streamed) or dask (a Dask cluster, for a "
                                             "(Geo)Parquet archive; needs the optional extra named dask).")]
SchedulerOpt = Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS",
                                                  help="With --engine dask: a running scheduler, tcp://HOST:8786.")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", metavar="N",
                                                help="With --engine dask and no --scheduler: worker processes of "
                                                     "a local cluster (default: one per core).")]


def check_engine(engine: str, scheduler: str | None, workers: int | None) -> str:
    """The engine name, checked against the options that go with it."""
    if engine not in ("local", "dask"):
        raise InputError(f"--engine must be local or dask, not {engine!r}", field="--engine")
    if engine == "local" and (scheduler is not None or workers is not None):
        raise InputError("--scheduler and --workers go with --engine dask", field="--engine")
    if scheduler is not None and workers is not None:
        raise InputError("give --scheduler (a running cluster) or --workers (a local one), not both",
                         field="--workers")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}", field="--workers")
    return engine


__all__ = [
    "EngineOpt",
    "SchedulerOpt",
    "WorkersOpt",
    "check_engine",
]
