"""The run lock (one money run at a time, settlement or expiry) and a run's progress reports."""

import logging

from shared import metrics, times
from shared.contracts.errors_settlement import RunInProgress
from shared.schemas import SYSTEM_ACTOR

log = logging.getLogger(__name__)

RUN_LOCK = "money-runs"
RUN_LOCK_SECONDS = 3600
PROGRESS_EVERY = 10_000  # lines between two progress reports of a run


# -- runs: shared ---------------------------------------------------------------------------------
def _with_lock(repo, holder, work):
    kind = metrics.run_kind(holder)  # counted and timed: aptic_runs_total (docs/operations.md)
    if not repo.acquire_lock(RUN_LOCK, holder, times.now(), RUN_LOCK_SECONDS):
        metrics.run_locked(kind)
        raise RunInProgress(details={"requested": holder})
    try:
        with metrics.measured_run(kind):
            return work()
    finally:
        repo.release_lock(RUN_LOCK, holder)


def once(repo, collection, run_id, completed, work):
    """A run made once: the completed run ``run_id`` as it is (``(run, False)``), else
    ``work()`` under the run lock (it creates or resumes the run; 409 ``run_in_progress`` while
    another run holds the lock)."""
    existing = repo.get_run(collection, run_id)
    if existing is not None and existing["status"] == completed:
        return existing, False
    return _with_lock(repo, run_id, work)


def create_run(repo, collection, run_id, status, settings, actor, **fields):
    """The run ``run_id`` of ``collection``, created now in ``status`` or found as it was left
    (``(run, created)``; a found one is resumed). Every run says its timezone, who started it and
    when; ``fields`` are its kind's own (its day, its moment)."""
    record = {
        "id": run_id,
        **fields,
        "timezone": settings.operator_timezone,
        "status": status,
        "created_at": times.now(),
        "created_by": actor or SYSTEM_ACTOR,
        "completed_at": None,
        "events_published": False,
    }
    return repo.create_run(collection, record)


class Progress:
    """Reports a run's progress: in the run document (GET shows it), in the log, and to an
    optional callback (a progress bar)."""

    def __init__(self, repo, collection, run_id, phase, total=None, callback=None):
        self.repo, self.collection, self.run_id = repo, collection, run_id
        self.phase, self.total, self.done, self.callback = phase, total, 0, callback
        self._report()

    def advance(self, count=1):
        self.done += count
        if self.callback:
            self.callback(self.phase, count, self.total)
        if self.done % PROGRESS_EVERY < count:
            self._report()

    def _report(self):
        self.repo.update_run(
            self.collection,
            self.run_id,
            {"progress": {"phase": self.phase, "done": self.done, "total": self.total}},
        )
        log.info("%s %s: %s %s/%s", self.collection, self.run_id, self.phase, self.done, self.total)
