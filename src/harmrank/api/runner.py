"""Runs started over HTTP: scored in the background, one at a time, on their own cursor.

DuckDB lets one process write a database file; within the server, run ids come from the
``runs`` table, so two runs at once could collide. Runs therefore go through one worker
thread, and approvals take the same write lock. Reads never wait: they use other cursors and
see the committed state (a run is one transaction, so a half-made run is never visible).
"""

from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from harmrank.config import Config
from harmrank.scoring import RunError, run_month
from harmrank.store import Store

log = logging.getLogger("harmrank.api")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunJob:
    job_id: str
    month: str
    requested_by: str
    requested_at: datetime
    state: str = "queued"  # queued | running | done | failed
    run_id: str | None = None
    status: str | None = None  # the run's status (draft | approved) once done
    error: str | None = None
    finished_at: datetime | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "month": self.month,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "state": self.state,
            "run_id": self.run_id,
            "status": self.status,
            "error": self.error,
            "finished_at": self.finished_at,
        }


class RunJobs:
    """The server's queue of runs (one worker) and its write lock."""

    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harmrank-run")
        self._jobs: dict[str, RunJob] = {}
        self._lock = threading.Lock()
        self.write_lock = threading.Lock()

    def submit(self, month: str, user: str) -> RunJob:
        """Queue a run of ``month`` (a month already queued or running is not queued twice)."""
        with self._lock:
            for job in self._jobs.values():
                if job.month == month and job.state in ("queued", "running"):
                    return job
            job = RunJob(secrets.token_hex(6), month, user, _now())
            self._jobs[job.job_id] = job
        self._executor.submit(self._run, job.job_id)
        return job

    def get(self, job_id: str) -> RunJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[RunJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.requested_at, reverse=True)

    def _update(self, job_id: str, **changes: Any) -> RunJob:
        with self._lock:
            job = replace(self._jobs[job_id], **changes)
            self._jobs[job_id] = job
            return job

    def _run(self, job_id: str) -> None:
        job = self._update(job_id, state="running")
        cur = self._store.cursor()
        try:
            with self.write_lock:
                info = run_month(cur, job.month, self._config, user=job.requested_by)
            self._update(
                job_id, state="done", run_id=info.run_id, status=info.status, finished_at=_now()
            )
        except RunError as e:
            self._update(job_id, state="failed", error=str(e), finished_at=_now())
        except Exception:  # never lose the worker; the detail goes to the server log only
            log.exception("run of %s failed", job.month)
            self._update(
                job_id,
                state="failed",
                error="the run failed; see the server log",
                finished_at=_now(),
            )
        finally:
            cur.close()

    def wait(self, job_id: str, timeout: float = 60.0) -> RunJob | None:
        """Block until a job has finished (for tests and scripts)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is None or job.state in ("done", "failed"):
                return job
            time.sleep(0.02)
        return self.get(job_id)

    def shutdown(self) -> None:
        """Finish the run in progress (a run is all or nothing), drop queued ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)
