"""The FastAPI app of `overflight serve`: a few lines per route over `overflight.web.views` and the library.

Security: loopback by default; on any other address every request needs the token printed at start (query
``?token=`` once, then a same-site cookie, or the ``X-Overflight-Token`` header). Every write needs the
``X-Overflight-Request`` header (a cross-site form cannot send one, and cross-origin scripts cannot without a
CORS preflight, which this server never grants) and, when the browser sends an Origin, the server's own.
The Host header must name this server (no DNS rebinding). Uploads over the limit get 413. The page's
Content-Security-Policy allows no inline script and no other host.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import json
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask

from overflight.case.store import Case
from overflight.errors import InputError, OverflightError
from overflight.web import cases, views
from overflight.web.jobs import JobRunner
from overflight.web.live import LiveFeed, alerts_geojson
from overflight.web.uploads import KINDS as UPLOAD_KINDS
from overflight.web.uploads import import_upload

STATIC = Path(str(resources.files("overflight") / "web" / "static"))
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WRITE_HEADER = "x-overflight-request"
TOKEN_HEADER = "x-overflight-token"
CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; img-src 'self' data: blob:; "
       "style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
EXPORTS = {"geojson": ("case.geojson", "application/geo+json"),
           "kml": ("case.kml", "application/vnd.google-earth.kml+xml"),
           "claimreview": ("claims.claimreview.json", "application/ld+json"), "report": ("report.html", "text/html")}
LIVE_STREAM_S = 30.0  # one server-sent-events connection lasts this long, then the browser reconnects


@dataclass
class CaseState:
    """The open case, whether it is read-only (and why), and the caches of what the page shows."""

    path: Path
    case: Case
    read_only_reason: str | None = None
    version: int = 0
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    _cache: dict[str, Any] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def reader(self) -> Case:
        """A view of the case on its own DuckDB cursor (safe next to other threads' cursors)."""
        c = copy.copy(self.case)
        c.con = self.case.con.cursor()
        c.con.execute("SET TimeZone='UTC'").fetchall()
        return c

    def changed(self) -> None:
        with self._cache_lock:
            self.version += 1
            self._cache.clear()

    def cached(self, key: str, make: Callable[[Case], Any]) -> Any:
        with self._cache_lock:
            if key in self._cache:
                return self._cache[key]
        c = self.reader()
        try:
            value = make(c)
        finally:
            c.con.close()
        with self._cache_lock:
            self._cache[key] = value
        return value


def open_state(path: str | Path, *, create: bool = False) -> CaseState:
    """Open the case for writing; when another process holds it, a read-only snapshot copy, saying so."""
    p = Path(path)
    if create and not Case.exists(p):  # a file or a postgresql:// case
        return CaseState(p, Case.create(p))
    try:
        return CaseState(p, Case.open(p))
    except OverflightError as exc:
        if "another process" not in str(exc):
            raise
        snap = Path(tempfile.mkdtemp(prefix="overflight-snapshot-")) / p.name
        shutil.copy2(p, snap)
        wal = p.with_name(p.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, snap.with_name(snap.name + ".wal"))
        case = Case.open(snap, read_only=True)
        case.path = p
        return CaseState(p, case, read_only_reason=f"{exc}; showing a read-only snapshot taken at start")


class NoCaseOpen(OverflightError):
    """No case is open yet: the page shows the case picker."""


class Workspace:
    """The case the server has open (none until one is picked), its job runner, and the picker's folders.

    Switching case closes the old one (refused while an analysis runs) and opens the new one; the page then
    reloads. Every route asks `current()` for the open case at the time of the request.
    """

    def __init__(self, dirs: Sequence[Path], recent_file: Path | None) -> None:
        self.dirs = list(dirs)
        self.recent_file = recent_file
        self.state: CaseState | None = None
        self.runner: JobRunner | None = None
        self._lock = threading.Lock()

    def current(self) -> CaseState:
        st = self.state
        if st is None:
            raise NoCaseOpen("no case is open: pick one or create one")
        return st

    def jobs(self) -> JobRunner:
        self.current()
        assert self.runner is not None
        return self.runner

    def open(self, path: Path, *, create: bool = False) -> CaseState:
        with self._lock:
            if self.state is not None and self.state.path.resolve() == path.resolve():
                return self.state  # already open here (a second handle would see our own lock)
            if self.runner is not None and any(j.state in ("queued", "running", "evaluating")
                                               for j in self.runner.jobs.values()):
                raise OverflightError("an analysis is running on the open case: wait for it to finish")
            new = open_state(path, create=create)
            old = self.state
            self.state, self.runner = new, JobRunner(_writer(new), new.write_lock, new.changed)
            if old is not None:
                with old.write_lock:
                    old.case.close()
            cases.remember(self.recent_file, path)
            return new

    def close(self) -> None:
        if self.state is not None:
            self.state.case.close()
            self.state = None


def create_app(case_path: str | Path | None, *, host: str = "127.0.0.1", port: int = 8700, token: str | None = None,
               max_upload_mb: float = 200.0, create: bool = False, cases_dirs: Sequence[Path] | None = None,
               recent_file: Path | None = None, live: LiveFeed | None = None) -> FastAPI:
    """The web app over a case file, or over none until the page's case picker opens one.

    Parameters
    ----------
    case_path
        The case (``.duckdb``) to open at start; created empty with ``create``. None: the picker.
    host, port
        Where the server listens (the Host header must name it).
    token
        Required on every request when given (`serve` makes one for any non-loopback address).
    max_upload_mb
        Larger request bodies get 413.
    cases_dirs
        Folders the picker lists case files in (the first one receives new cases); default the working
        directory.
    recent_file
        The recently opened cases (``cases.default_recent_file()`` for `serve`); None keeps no list.
    live
        A live monitor feed (`overflight.web.live`) shown as a layer and streamed as server-sent events.
    """
    ws = Workspace(list(cases_dirs) if cases_dirs else [Path.cwd()], recent_file)
    if case_path is not None:
        ws.open(Path(case_path), create=create)
    limit = int(max_upload_mb * 1024 * 1024)
    names = (host, *LOOPBACK, "[::1]")
    allowed_hosts = {f"{h}:{port}" for h in names} | set(names)
    if host in ("0.0.0.0", "::"):
        allowed_hosts = set()  # any interface: the token is the guard

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if live is not None:
            live.start()
        try:
            yield
        finally:
            if live is not None:
                live.stop()

    app = FastAPI(title="overflight", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.workspace = ws
    app.state.token = token
    app.state.live = live

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if allowed_hosts and request.headers.get("host") not in allowed_hosts:
            return _err(421, "this server answers only to its own address (Host header mismatch)")
        if token is not None:
            given = (request.headers.get(TOKEN_HEADER) or request.query_params.get("token")
                     or request.cookies.get("overflight_token") or "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _err(401, "this server needs its access token: open the address printed at start")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if request.headers.get(WRITE_HEADER) != "1":
                return _err(403, "writes need the X-Overflight-Request header (cross-site requests are refused)")
            origin = request.headers.get("origin")
            if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
                return _err(403, f"cross-site write refused (origin {origin})")
            n = request.headers.get("content-length")
            if n is not None and n.isdigit() and int(n) > limit:
                return _err(413, f"upload too large: {int(n) / 1e6:.1f} MB, the limit is {max_upload_mb:g} MB "
                                 "(overflight serve --max-upload-mb)")
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if token is not None and request.query_params.get("token") == token:
            response.set_cookie("overflight_token", token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(InputError)
    async def _input_error(_r: Request, exc: InputError) -> Response:
        return _err(422, str(exc), field=exc.field)

    @app.exception_handler(NoCaseOpen)
    async def _no_case(_r: Request, exc: NoCaseOpen) -> Response:
        return _err(409, str(exc), no_case=True)

    @app.exception_handler(OverflightError)
    async def _ovf_error(_r: Request, exc: OverflightError) -> Response:
        return _err(409, str(exc))

    def read(key: str, make: Callable[[Case], Any]) -> Any:
        return ws.current().cached(key, make)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    # ---------------------------------------------------------------- the case picker
    @app.get("/api/cases")
    def list_cases() -> dict[str, Any]:
        return cases.listing(ws.dirs, ws.recent_file, ws.state.path if ws.state else None)

    @app.post("/api/cases/open")
    async def open_case(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        st = ws.open(cases.pick(str(body.get("path") or ""), ws.dirs, ws.recent_file))
        return {"path": str(st.path), "read_only": st.read_only_reason is not None}

    @app.post("/api/cases/new")
    async def new_case(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        st = ws.open(cases.new_case_path(str(body.get("name") or ""), ws.dirs), create=True)
        return {"path": str(st.path), "read_only": False}

    # ---------------------------------------------------------------- the open case
    @app.get("/api/case")
    def case_summary() -> dict[str, Any]:
        state = ws.current()
        out = dict(read("summary", views.summary))
        where = state.case.url or str(state.path.resolve())  # a team case: its URL, without the password
        out.update({"path": where, "read_only": state.read_only_reason is not None,
                    "read_only_reason": state.read_only_reason,
                    "version": state.version, "max_upload_mb": max_upload_mb, "token_required": token is not None,
                    "live": live.describe if live is not None else None})
        return out

    @app.get("/api/claims")
    def claims(feature: str | None = None) -> dict[str, Any]:
        board = read("claims", views.claims_board)
        return {"claims": board, "for_feature": views.claims_for_feature(board, feature) if feature else None}

    @app.get("/api/zones")
    def zones(zoom: float = 3.0, start: str | None = None, end: str | None = None) -> Response:
        z = int(_zoom(zoom))
        t0, t1 = _window(start, end)
        layer: views.ZoneLayer = read("zones", views.ZoneLayer.from_case)
        if t0 is None and t1 is None:
            return _json(read(f"zones:{z}", lambda _c: _dumps(layer.geojson(z))))
        return _json(_dumps(layer.geojson(z, t0, t1)))

    base: dict[str, views.ZoneLayer] = {}
    base_lock = threading.Lock()

    @app.get("/api/basemap")
    def basemap(zoom: float = 3.0) -> Response:
        z = int(_zoom(zoom))
        with base_lock:  # one load of the embedded set per server, then one simplification per zoom level
            if "layer" not in base:
                base["layer"] = views.basemap()
            return _json(_dumps(base["layer"].geojson(z)))

    @app.get("/api/tracks")
    def tracks(start: str | None = None, end: str | None = None, zoom: float = 3.0,
               bbox: str | None = None) -> Response:
        t0, t1 = _window(start, end)
        layer: views.TrackLayer = read("tracks", views.TrackLayer.from_case)
        visits = read("transit", views.latest_transit)
        return _json(_dumps(layer.window(t0, t1, _zoom(zoom), views.parse_bbox(bbox), visits)))

    @app.get("/api/observations")
    def observations(start: str | None = None, end: str | None = None) -> Response:
        t0, t1 = _window(start, end)
        return _json(_dumps(views.in_window(read("observations", views.observations), t0, t1)))

    @app.get("/api/prisms")
    def prisms(start: str | None = None, end: str | None = None) -> Response:
        t0, t1 = _window(start, end)
        return _json(_dumps(views.in_window(read("prisms", views.prisms), t0, t1)))

    @app.get("/api/prisms/{run_id}/paths")
    def prism_paths(run_id: str, pair: str) -> Response:
        return _json(read(f"paths:{run_id}:{pair}", lambda c: _dumps(views.prism_paths(c, run_id, pair))))

    @app.get("/api/attribution")
    def attribution(start: str | None = None, end: str | None = None) -> Response:
        t0, t1 = _window(start, end)
        return _json(_dumps(views.in_window(read("attribution", views.attribution), t0, t1)))

    @app.get("/api/timeline")
    def timeline() -> dict[str, Any]:
        return read("timeline", views.timeline)  # type: ignore[no-any-return]

    @app.get("/api/runs")
    def runs() -> dict[str, Any]:
        return {"runs": read("runs", views.runs)}

    @app.get("/api/runs/{run_id}")
    def run_rows(run_id: str, offset: int = 0, limit: int = 200) -> dict[str, Any]:
        if offset < 0 or not 0 < limit <= 5000:
            raise InputError("offset must be >= 0 and limit between 1 and 5000", field="limit")
        return read(f"run:{run_id}:{offset}:{limit}",  # type: ignore[no-any-return]
                    lambda c: views.run_rows(c, run_id, offset, limit))

    @app.get("/api/export/{fmt}")
    def export(fmt: str) -> Response:
        if fmt not in EXPORTS:
            raise InputError(f"unknown export {fmt!r}: one of {', '.join(EXPORTS)}", field="format")
        name, media = EXPORTS[fmt]
        out = Path(tempfile.mkdtemp(prefix="overflight-export-")) / name
        c = ws.current().reader()
        try:
            if fmt == "report":
                from overflight.report.build import build_context
                from overflight.report.html import render_report

                out.write_text(render_report(build_context(c)), encoding="utf-8")
            else:
                from overflight.case.export import export as write_export

                write_export(c, fmt, out)  # ClaimReview: the case's publisher.name and review.url
        finally:
            c.con.close()
        return FileResponse(out, media_type=media, filename=name,
                            background=BackgroundTask(shutil.rmtree, out.parent, ignore_errors=True))

    @app.post("/api/upload/{kind}")
    def upload(kind: str, file: UploadFile = File(...), dataset: str = Form(""), tz: str = Form(""),
               source_id: str = Form("")) -> Response:
        if kind not in UPLOAD_KINDS:
            raise InputError(f"unknown upload kind {kind!r}: one of {', '.join(UPLOAD_KINDS)}", field="kind")
        state = ws.current()
        _writable(state)
        name = _safe_name(file.filename or f"upload.{kind}")
        tmp = Path(tempfile.mkdtemp(prefix="overflight-upload-"))
        try:
            dest = tmp / name
            size = 0
            with dest.open("wb") as fh:
                while chunk := file.file.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        return _err(413, f"upload too large: over {max_upload_mb:g} MB "
                                         "(overflight serve --max-upload-mb)")
                    fh.write(chunk)
            with state.write_lock:
                result = import_upload(state.case, kind, dest, name, dataset=dataset or None, tz=tz or None,
                                       source_id=source_id or None)
                if result.ok:
                    state.case.evaluate()  # new claims or observations: the verdicts are re-derived at once
                    state.changed()
            return JSONResponse(result.as_dict(), status_code=200 if result.ok else 422)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @app.post("/api/jobs")
    async def start_job(request: Request) -> Response:
        _writable(ws.current())
        body = await _json_body(request)
        if not isinstance(body.get("params", {}), dict):
            raise InputError("the body must be {\"kind\": ..., \"params\": {...}}", field="body")
        job = ws.jobs().submit(str(body.get("kind")), body.get("params") or {})
        return JSONResponse(job.as_dict(), status_code=202)

    @app.get("/api/jobs")
    def jobs() -> dict[str, Any]:
        return {"jobs": [j.as_dict() for j in ws.jobs().jobs.values()]}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        runner = ws.jobs()
        if job_id not in runner.jobs:
            return _err(404, f"no job {job_id!r}")  # type: ignore[return-value]
        return runner.jobs[job_id].as_dict()

    # ---------------------------------------------------------------- the live monitor
    def _live() -> LiveFeed:
        if live is None:
            raise HTTPException(404, "no live monitor: start `overflight serve` with --monitor-feed or "
                                     "--monitor-jsonl")
        return live

    @app.get("/api/live")
    def live_alerts(since: int = 0) -> Response:
        feed = _live()
        if since < 0:
            raise InputError("since is an alert number >= 0", field="since")
        return _json(_dumps({**alerts_geojson(feed.since(since)), "status": feed.status(), "zones": feed.zones()}))

    @app.get("/api/live/stream")
    async def live_stream(request: Request, since: int | None = None) -> Response:
        feed = _live()
        header = request.headers.get("last-event-id")
        if header is not None:  # a reconnecting EventSource: resume after the last alert it saw
            if not header.isdigit():
                raise InputError("Last-Event-ID must be an alert number", field="Last-Event-ID")
            since = int(header)
        if since is not None and since < 0:
            raise InputError("since is an alert number >= 0", field="since")

        async def events() -> AsyncIterator[str]:
            last = feed.last_seq if since is None else since
            loop = asyncio.get_running_loop()
            # Each stream ends after a while and the browser's EventSource reconnects (with Last-Event-ID):
            # no connection outlives a server shutdown by more than that.
            t_end, t_status = loop.time() + LIVE_STREAM_S, 0.0
            yield "retry: 1000\n\n"
            while loop.time() < t_end:
                if await request.is_disconnected():
                    break
                for seq, e in feed.since(last):
                    yield f"id: {seq}\nevent: alert\ndata: {json.dumps(alerts_geojson([(seq, e)])['features'][0])}\n\n"
                    last = seq
                if loop.time() - t_status >= 1.0:
                    t_status = loop.time()
                    yield f"event: status\ndata: {json.dumps(feed.status(), default=str)}\n\n"
                await asyncio.sleep(0.2)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InputError("the body must be a JSON object", field="body") from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object", field="body")
    return body


def _writer(state: CaseState) -> Callable[[], Case]:
    def open_writer() -> Case:
        return state.reader()
    return open_writer


def _writable(state: CaseState) -> None:
    if state.read_only_reason is not None:
        raise OverflightError(f"read-only: {state.read_only_reason}")


def _dumps(obj: Any) -> bytes:
    # Map layers are large: encoded once with json (FastAPI's encoder walks every coordinate in Python).
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


def _err(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status)


def _zoom(z: float) -> float:
    if not 0 <= z <= 24:
        raise InputError(f"zoom must be between 0 and 24, not {z}", field="zoom")
    return z


def _window(start: str | None, end: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    t0, t1 = views.parse_time(start, "start"), views.parse_time(end, "end")
    if t0 is not None and t1 is not None and t1 < t0:
        raise InputError("the window ends before it starts", field="end")
    return t0, t1


def _safe_name(name: str) -> str:
    """The file's base name with only letters, digits, dot, dash and underscore (its extension picks the reader)."""
    base = Path(name.replace("\\", "/")).name
    clean = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in base).lstrip(".")
    return clean[:120] or "upload"


def new_token() -> str:
    return secrets.token_urlsafe(24)


__all__ = [
    "CSP",
    "EXPORTS",
    "LOOPBACK",
    "STATIC",
    "TOKEN_HEADER",
    "WRITE_HEADER",
    "CaseState",
    "create_app",
    "new_token",
    "open_state",
]
