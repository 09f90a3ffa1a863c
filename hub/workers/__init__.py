"""``hub worker``: the hub's scale path, on procrastinate (a job queue in PostgreSQL).

The unit of work is one idempotent (shop, stream) job that runs exactly what
``hub sync --shop S --stream X`` runs. Jobs live in the hub's own database, so a change
and the job it needs commit in one transaction (:mod:`hub.workers.enqueue`); one periodic
scheduler, deduplicated by the database across every worker, enqueues the streams that
are due (:mod:`hub.workers.scheduler`); a shop's rate limit is shared by every worker
through a row in the database (:mod:`hub.workers.ratelimit_pg`).

* :mod:`hub.workers.app` — the procrastinate app and its connector;
* :mod:`hub.workers.tasks` — the tasks and their retry policy;
* :mod:`hub.workers.runner` — what a worker process holds (its shops, its running syncs);
* :mod:`hub.workers.jobs` — what ran and what failed (``hub jobs``).
"""
