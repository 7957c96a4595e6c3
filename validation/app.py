"""The seed's app (fantix's gist of 16 Sept 2020), unchanged in behaviour, parameterised by env vars.

Runs unchanged on both stacks (Python 3.8 + SQLAlchemy 1.3 and Python 3.11 + SQLAlchemy 2), so it
is excluded from ruff's py310 rules. Machine-readable lines start with "PSS " and carry
time.monotonic() stamps: CLOCK_MONOTONIC is system-wide on Linux, so the server's, the
in-process client's and the external client's stamps compare directly.

Deviations from the seed, each needed to measure it:
- The seed schedules its client with a module-level `asyncio.ensure_future` on a loop that
  `uvicorn.run` never runs (uvicorn creates and runs a new loop), so as written it sends nothing.
  With PSS_CLIENT=in-process the same `concurrent_request()` is started from the startup event,
  i.e. on the server's own loop, as the seed meant; the task is kept referenced (on Python 3.8
  an unreferenced task can be garbage-collected mid-request).
- Python 3.11's `asyncio.wait` rejects bare coroutines: there the requests are wrapped in tasks
  in order; on 3.8 `asyncio.wait(coroutines)` starts them from a set, in scrambled order, as in 2020.
- `select([User])` is written `select(User.__table__)` in SQLAlchemy 2 (the same Core select of
  the columns; `select(User)` would return ORM rows without `.name`); SQLAlchemy 2 maps `postgresql://` to
  psycopg 3, so the psycopg2 driver is named explicitly there.
- Per request, `w` (seconds of async work) and `q` (a query of q seconds, `SELECT pg_sleep(q)`
  on the endpoint's Session, in place of the seed's SELECT) may come in the query string, so a
  replayed trace or a drawn distribution gives the app the same work as the model; without them
  the endpoint runs the seed's SELECT and awaits PSS_ASYNC_WORK, as before.
- With PSS_WORKERS > 1 the app runs as `uvicorn app:served --workers N` does (the app as an import
  string, one listening socket bound by the supervisor); every response carries the serving
  worker's pid in an `x-pss-pid` header, and the server's events and the probe's reports carry
  it too, so the harness can tell the workers' requests and loop blocks apart.
- With PSS_TRACE=1 each step of a request's way to the database prints a "trace" event
  (`trace` below); off (the default) the app runs none of it.
- "Handling i" carries a timestamp; the client records send/complete/status per request; an
  outer ASGI wrapper prints when the server is done with each request (after FastAPI's teardown),
  so the harness waits for the server, not only the client (a client that timed out is gone
  while the server may still be frozen).
"""
import asyncio
import contextvars
import gc
import json
import os
import sys
import threading
import time

import fastapi
import httpx
import sqlalchemy
import uvicorn
from fastapi import Depends
from sqlalchemy import create_engine, select, Column, Integer, String
from sqlalchemy.ext.declarative import declarative_base
from sqlalchemy.orm import sessionmaker, Session

from probe import LoopProbe, print_report

ENV = os.environ
SQLALCHEMY_DATABASE_URL = ENV.get("SQLALCHEMY_DATABASE_URL", "postgresql:///")
POOL = dict(
    pool_size=int(ENV.get("PSS_POOL_SIZE", "5")),
    max_overflow=int(ENV.get("PSS_MAX_OVERFLOW", "10")),
    pool_timeout=float(ENV.get("PSS_POOL_TIMEOUT", "30")),
)
ASYNC_WORK = float(ENV.get("PSS_ASYNC_WORK", "0.1"))
ENDPOINT = ENV.get("PSS_ENDPOINT", "async-sync-session")
CLIENT = ENV.get("PSS_CLIENT", "external")
REQUESTS = int(ENV.get("PSS_REQUESTS", "20"))
CLIENT_TIMEOUT = None if ENV.get("PSS_CLIENT_TIMEOUT", "none") == "none" else float(ENV["PSS_CLIENT_TIMEOUT"])
PORT = int(ENV.get("PSS_PORT", "8000"))
LOOP = ENV.get("PSS_LOOP", "auto")
WORKERS = int(ENV.get("PSS_WORKERS", "1"))
PID = os.getpid()
# calibrate: time.thread_time() marks on the loop thread that split a request's loop CPU
SPLIT = ENV.get("PSS_SPLIT", "0") == "1"
SPLIT_EVERY = 50  # requests per "split" event, so printing adds ~nothing per request
SA2 = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2]) >= (1, 4)


def event(kind, **fields):
    print("PSS " + json.dumps(dict(kind=kind, **fields)), flush=True)


def driver_url(url, driver):
    scheme, rest = url.split("://", 1)
    return "%s+%s://%s" % (scheme.split("+")[0], driver, rest)


engine = create_engine(driver_url(SQLALCHEMY_DATABASE_URL, "psycopg2") if SA2 else SQLALCHEMY_DATABASE_URL, **POOL)
SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)
Base = declarative_base()


def get_db():
    if TRACE:
        trace("get_db")
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True, index=True)
    name = Column(String)


def select_users():
    """The seed's `select([User])`: a Core select of the table's columns (rows have `.name`)."""
    return select(User.__table__) if SA2 else select([User])


def sleep_query(q):
    """`q` seconds of query on the connection: the request's own slow query."""
    return sqlalchemy.text("SELECT pg_sleep(:q)").bindparams(q=q)


def run_query(db, q):
    if q is None:
        return db.execute(select_users()).fetchall()
    db.execute(sleep_query(q))
    return []


MARKS = contextvars.ContextVar("marks", default=None)
SPLITS = []
CALLBACKS = [0]  # asyncio Handle._run calls (uvloop's C handles are not counted)


def count_callbacks():
    run = asyncio.events.Handle._run

    def counted(handle):
        CALLBACKS[0] += 1
        return run(handle)

    asyncio.events.Handle._run = counted


if SPLIT:
    count_callbacks()

# PSS_GC=1: a "gc" event per collection of generation >= GC_MIN_GENERATION (or any one longer
# than GC_MIN_SECONDS), with its time.monotonic() span, so a loop stall can be laid beside it;
# a full collection also counts the objects it examined (gen 2's after it, the survivors).
GC_EVENTS = ENV.get("PSS_GC", "0") == "1"
GC_MIN_GENERATION = 1
GC_MIN_SECONDS = 0.005
GC_START = [0.0]


def on_gc(phase, info):
    if phase == "start":
        GC_START[0] = time.monotonic()
        return
    end = time.monotonic()
    generation = info["generation"]
    if generation < GC_MIN_GENERATION and end - GC_START[0] < GC_MIN_SECONDS:
        return
    survivors = len(gc.get_objects(generation=2)) if generation == 2 else None
    event("gc", generation=generation, start=GC_START[0], end=end, collected=info["collected"],
          survivors=survivors, thread=threading.current_thread().name)


if GC_EVENTS:
    gc.callbacks.append(on_gc)


# PSS_TRACE=1: a "trace" event, stamped with time.monotonic() and the thread's CPU clock, at each
# step between a connection's accept and the endpoint's query (uvicorn's connection_made and
# data_received, the app's entry, the dependency's set-up on its worker thread, the Session's
# execute, the DBAPI connect and the pool's connect listeners, the checkout, the cursor's
# execute), so a burst's timeline shows where each request's milliseconds go, in wall and CPU.
TRACE = ENV.get("PSS_TRACE", "0") == "1"
REQUEST = contextvars.ContextVar("request", default=None)  # the request's `i=...` query


def trace(step, **fields):
    event("trace", step=step, t=time.monotonic(), cpu=time.thread_time(),
          thread=threading.current_thread().name, q=REQUEST.get(), **fields)


def trace_database(engine, sessionmaker_):
    from sqlalchemy import event as sa_event

    @sa_event.listens_for(engine, "do_connect")
    def connect(dialect, record, cargs, cparams):
        trace("connect")
        dbapi_connection = dialect.connect(*cargs, **cparams)
        trace("connected")
        return dbapi_connection

    # appended after create_engine's own: runs once the dialect's on_connect (and, on the
    # pool's first connection, first_connect's dialect.initialize) are done
    sa_event.listen(engine.pool, "connect", lambda *args: trace("connect-listeners-done"))
    sa_event.listen(engine.pool, "checkout", lambda *args: trace("checkout"))
    sa_event.listen(engine, "before_cursor_execute", lambda *args: trace("query"))
    sa_event.listen(engine, "after_cursor_execute", lambda *args: trace("queried"))
    if SA2:
        sa_event.listen(sessionmaker_, "do_orm_execute", lambda *args: trace("execute"))


def trace_protocols():
    """uvicorn's HTTP protocol classes: connection_made and data_received stamped (the
    client's port names the connection; uvloop calls these Python methods from C)."""
    import importlib

    for module, name in (("uvicorn.protocols.http.h11_impl", "H11Protocol"),
                         ("uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol")):
        try:
            cls = getattr(importlib.import_module(module), name)
        except ImportError:
            continue
        made, received = cls.connection_made, cls.data_received

        def connection_made(self, transport, made=made):
            trace("connection_made", port=transport.get_extra_info("peername")[1])
            return made(self, transport)

        def data_received(self, data, received=received):
            trace("data_received", port=self.transport.get_extra_info("peername")[1])
            return received(self, data)

        cls.connection_made, cls.data_received = connection_made, data_received


def mark(name):
    marks = MARKS.get()
    if marks is not None:
        marks[name] = time.thread_time()


def handling(i):
    mark("handled")
    print("Handling %s" % i, flush=True)
    event("handled", i=i, t=time.monotonic(), pid=PID)


if TRACE:
    trace_database(engine, SessionLocal)
    trace_protocols()

app = fastapi.FastAPI()


async def list_names(i: int, w: float = None, q: float = None, db: Session = Depends(get_db)):
    users = run_query(db, q)
    handling(i)
    await asyncio.sleep(ASYNC_WORK if w is None else w)  # <----- simulating async work
    mark("returned")
    return i, [user.name for user in users]


def list_names_sync(i: int, w: float = None, q: float = None, db: Session = Depends(get_db)):
    users = run_query(db, q)
    handling(i)
    time.sleep(ASYNC_WORK if w is None else w)
    return i, [user.name for user in users]


def async_session_endpoint():
    """AsyncSession with asyncpg (SQLAlchemy >= 1.4): the checkout is awaited, the loop stays free."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    async_engine = create_async_engine(driver_url(SQLALCHEMY_DATABASE_URL, "asyncpg"), **POOL)
    AsyncSessionLocal = sessionmaker(async_engine, class_=AsyncSession, expire_on_commit=False)

    async def get_async_db():
        async with AsyncSessionLocal() as db:
            yield db

    async def list_names_async(i: int, w: float = None, q: float = None,
                               db: AsyncSession = Depends(get_async_db)):
        if q is None:
            users = (await db.execute(select_users())).fetchall()
        else:
            await db.execute(sleep_query(q))
            users = []
        handling(i)
        await asyncio.sleep(ASYNC_WORK if w is None else w)
        return i, [user.name for user in users]

    return list_names_async


ENDPOINTS = {
    "async-sync-session": lambda: list_names,
    "sync": lambda: list_names_sync,
    "async-session": async_session_endpoint,
}
app.get("/")(ENDPOINTS[ENDPOINT]())


@app.on_event("startup")
def startup():
    Base.metadata.create_all(engine)


async def request(i):
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
        sent_at = time.monotonic()
        try:
            resp = await client.get("http://127.0.0.1:%s/?i=%s" % (PORT, i))
        except Exception as exc:
            event("request", i=i, sent_at=sent_at, completed_at=time.monotonic(), status=None, error=type(exc).__name__)
            raise
        event("request", i=i, sent_at=sent_at, completed_at=time.monotonic(), status=resp.status_code, error=None)
        print(resp.json() if resp.status_code == 200 else resp.text)


async def concurrent_request():
    await asyncio.sleep(1)
    event("burst", t=time.monotonic())
    if sys.version_info < (3, 11):
        fs = [request(i) for i in range(REQUESTS)]
    else:
        fs = [asyncio.ensure_future(request(i)) for i in range(REQUESTS)]
    await asyncio.wait(fs)
    event("done", t=time.monotonic())


KEEP = []  # strong references: the probe, and the client task (see the module docstring)


@app.on_event("startup")
async def start_probe_and_client():
    if ENV.get("PSS_PROBE", "1") == "1":
        probe = LoopProbe(asyncio.get_event_loop(), print_report)
        probe.start()
        KEEP.append(probe)
    event("ready", loop=type(asyncio.get_event_loop()).__module__, python=sys.version.split()[0],
          sqlalchemy=sqlalchemy.__version__, fastapi=fastapi.__version__, pid=os.getpid())
    if CLIENT == "in-process":
        KEEP.append(asyncio.ensure_future(concurrent_request()))


class Served:
    """Outermost ASGI wrapper: one "served" event per HTTP request, however it ended.

    With PSS_SPLIT=1 it also marks the loop thread's CPU clock at the app's entry, and at exit;
    with the seed endpoint's marks ("handled" after the query, "returned" after the await) that
    gives the CPU spent from the app's entry to the endpoint and from its return to the end.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        marks = {"entry": time.thread_time()} if SPLIT and scope["type"] == "http" else None
        MARKS.set(marks)
        if TRACE and scope["type"] == "http":
            REQUEST.set(scope.get("query_string", b"").decode())
            trace("app", port=scope["client"][1])

        async def send_with_pid(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + [(b"x-pss-pid", str(PID).encode())]
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.inner(scope, receive, send_with_pid)
        except Exception as exc:  # the 500's cause: a pool time-out, or PostgreSQL refusing
            event("error", type=type(exc).__name__, message=str(exc).splitlines()[0][:200], pid=PID)
            raise
        finally:
            if scope["type"] == "http":
                event("served", t=time.monotonic(), query=scope.get("query_string", b"").decode(),
                      pid=PID)
            if marks is not None and "returned" in marks:
                split(marks)


def split(marks):
    SPLITS.append((marks["handled"] - marks["entry"], time.thread_time() - marks["returned"]))
    if len(SPLITS) == SPLIT_EVERY:
        event("split", app=[a for a, _ in SPLITS], respond=[r for _, r in SPLITS],
              callbacks=CALLBACKS[0], requests=SPLIT_EVERY)
        SPLITS.clear()
        CALLBACKS[0] = 0


served = Served(app)

if __name__ == "__main__":
    if WORKERS > 1:  # uvicorn.run needs the import string to start workers (supervisors/multiprocess.py)
        uvicorn.run("app:served", host="127.0.0.1", port=PORT, loop=LOOP, log_level="warning",
                    workers=WORKERS)
    else:
        uvicorn.run(served, host="127.0.0.1", port=PORT, loop=LOOP, log_level="warning")
