"""The web app under load: the dashboard, the analysis API and robot status at 200 requests/s.

`potager serve` runs on 127.0.0.1 (a child process, so the load generator does not share
its GIL) with four simulated robots on pseudo-terminals and a small seeded trial: an RCBD
of 4 varieties x 4 blocks and two numeric variables. An open-loop generator sends
requests on a fixed schedule, 200/s for 10 s per page, and times each from when it was
due, so a server that falls behind shows in the latencies instead of slowing the
generator down. Targets: p99 <= 50 ms and no errors at 200 requests/s, for the dashboard
(signed in by cookie), `/api/trials/1/analysis` and the robots' status `/api/robots`
(bearer token).

The reference, measured in the same run on the same server: the static stylesheet
`/static/app.css`, which costs the app nothing but the HTTP stack. Ratios to it show what
the pages add. A request due while 100 are still unanswered counts as an error, which
bounds the backlog of a server that cannot keep up. `--quick` (POTAGER_BENCH_QUICK=1)
runs 3 s per page instead of 10.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from potager.db import make_engine, session_factory, upgrade_database
from sim.broker import free_port
from trials.design import Factor, rcbd
from trials.plots import BedArea, lay_out
from trials.store import ObservationIn, TrialStore, VariableIn, store_laid_out_trial
from web.accounts import Accounts, Role

RATE_PER_S = 200
SECONDS = 10
QUICK_SECONDS = 3
TARGET_P99_MS = 50.0
TIMEOUT_S = 5.0
SERIAL_REQUESTS = 50
MAX_IN_FLIGHT = 100
WARM_UP_S = 0.5
USER, PASSWORD = "bench", "bench password"
SITE = "bench"
ROBOTS = 4


@dataclass(frozen=True)
class LoadResult:
    sent: int
    errors: int
    achieved_per_s: float
    p50_ms: float
    p99_ms: float
    serial_ms: float  # median of one request at a time: the service time, without queueing


def seed(url: str) -> str:
    """A migrated database with one trial (id 1) and a researcher; the researcher's token."""
    upgrade_database(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        store = TrialStore(sessions)
        varieties = ["Ambre", "Bora", "Corail", "Dune"]
        book = rcbd(Factor("variety", varieties), 4, seed=7)
        trial_id = store_laid_out_trial(
            store, name="bench", site=SITE, bed="A", bed_size_mm=(3000, 1500), book=book,
            rectangles=lay_out(book, BedArea(0, 0, 3000, 1500), 600, 300),
        )  # fmt: skip
        observed_at = datetime(2026, 6, 15, tzinfo=UTC)
        for offset, variable in ((0.0, "height"), (500.0, "leaf_area")):
            store.define_variable(trial_id, VariableIn(name=variable, unit="mm"))
            store.record_observations(
                [
                    ObservationIn(
                        trial_id=trial_id, plot=p.plot, variable=variable, observed_at=observed_at,
                        value=offset + 50 * varieties.index(p.treatment) + (p.plot * 7) % 11,
                        recorder_kind="robot", recorder="bench",
                    )
                    for p in book.plots
                ]
            )  # fmt: skip
        accounts = Accounts(sessions)
        user_id = accounts.create_user(USER, PASSWORD, Role.RESEARCHER)
        return accounts.issue_api_token(user_id, "bench")
    finally:
        engine.dispose()


@contextmanager
def potager_serve(url: str, *options: str) -> Iterator[str]:
    """`potager serve` on `url` in a process of its own, as an operator runs it, once it
    answers; its base URL. Stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "potager", "serve", "--database", url, "--port", str(port)]
    server = subprocess.Popen([*command, *options], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/static/app.css", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("potager serve did not start within 30 s") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _load(
    client: httpx.AsyncClient, path: str, seconds: float, headers: dict[str, str], serial_ms: float
) -> LoadResult:
    """`RATE_PER_S` requests/s to `path` for `seconds`, each timed from when it was due."""
    count = int(RATE_PER_S * seconds)
    latencies: list[float] = []
    errors = in_flight = 0

    async def one(due: float) -> None:
        nonlocal errors, in_flight
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if in_flight >= MAX_IN_FLIGHT:  # a server this far behind has failed; bound its backlog
            errors += 1
            latencies.append(TIMEOUT_S)
            return
        in_flight += 1
        try:
            response = await client.get(path, headers=headers)
            if response.status_code != 200:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        finally:
            in_flight -= 1
        latencies.append(time.perf_counter() - due)

    start = time.perf_counter() + 0.05
    await asyncio.gather(*(one(start + i / RATE_PER_S) for i in range(count)))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return LoadResult(
        count, errors, (count - errors) / elapsed, statistics.median(ordered) * 1000, p99 * 1000,
        serial_ms,
    )  # fmt: skip


async def _serial_ms(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    samples = []
    for _ in range(SERIAL_REQUESTS):
        start = time.perf_counter()
        await client.get(path, headers=headers)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


async def _drain(client: httpx.AsyncClient) -> None:
    """Wait until the server has finished what a load left queued."""
    (await client.get("/static/app.css", timeout=120)).raise_for_status()


async def _measure(base_url: str, token: str, seconds: float) -> dict[str, LoadResult]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=TIMEOUT_S) as client:
        signed = await client.post("/login", data={"name": USER, "password": PASSWORD})
        if signed.status_code != 303:
            raise RuntimeError(f"could not sign in: {signed.status_code}")
        bearer = {"Authorization": f"Bearer {token}"}
        pages = {
            "static app.css (reference)": ("/static/app.css", {}),
            "dashboard page (cookie)": ("/trials/1?variable=height", {}),
            "analysis API (bearer)": ("/api/trials/1/analysis?variable=height", bearer),
            f"status of {ROBOTS} robots (bearer)": ("/api/robots", bearer),
        }
        results = {}
        for name, (path, headers) in pages.items():
            # Warm up: the first dashboard imports matplotlib and renders its fonts.
            (await client.get(path, headers=headers, timeout=60)).raise_for_status()
            serial_ms = await _serial_ms(client, path, headers)
            # A short unmeasured load first opens the connections the measured one reuses.
            await _load(client, path, WARM_UP_S, headers, serial_ms)
            await _drain(client)
            gc.collect()
            gc.disable()  # the generator's own collections would show as the server's latency
            try:
                results[name] = await _load(client, path, seconds, headers, serial_ms)
            finally:
                gc.enable()
            await _drain(client)
        return results


def main() -> bool:
    seconds = QUICK_SECONDS if os.environ.get("POTAGER_BENCH_QUICK") else SECONDS
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'potager.sqlite3'}"
        token = seed(url)
        # with simulated robots on pseudo-terminals
        robots = ("--sim-robots", str(ROBOTS), "--sim-site", SITE)
        with potager_serve(url, *robots) as base:
            results = asyncio.run(_measure(base, token, seconds))
    return report(results, seconds)


def report(results: dict[str, LoadResult], seconds: float) -> bool:
    print(f"\n== web under load: {RATE_PER_S} requests/s for {seconds} s each, uvicorn on loopback")
    print(f"{'':28}{'sent':>6}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'alone ms':>10}")
    for name, r in results.items():
        print(
            f"{name:28}{r.sent:6}{r.errors:8}{r.achieved_per_s:8.1f}{r.p50_ms:9.2f}{r.p99_ms:9.2f}"
            f"{r.serial_ms:10.2f}"
        )
    print("(req/s: answered with 200 per second of the run; alone: median of one at a time)")
    reference = next(iter(results.values()))
    ok = True
    for name, r in list(results.items())[1:]:
        met = r.p99_ms <= TARGET_P99_MS and r.errors == 0 and r.achieved_per_s >= 0.95 * RATE_PER_S
        ok &= met
        print(
            f"{name}: ratio to reference p50 {r.p50_ms / reference.p50_ms:.1f}x,"
            f" p99 {r.p99_ms / reference.p99_ms:.1f}x; target p99 <= {TARGET_P99_MS:.0f} ms,"
            f" no errors: {'met' if met else 'MISSED'}"
        )
    return ok
