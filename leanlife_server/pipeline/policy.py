"""When a project retrains: its owner's policy (every N new annotations, at most every T
seconds, or manual only), with at most one queued and one running retraining job.

Decisions are serialized per project by locking the project row, so two annotations saved
at the same moment never queue two jobs. An annotation saved while a job runs may queue one
follow-up; more annotations then join that follow-up rather than queue more.

The cheap recommenders (``pipeline/recommenders.py``) retrain after every saved or deleted
annotation, whatever the policy, in a job of their own kind (``train_cheap``) in the small
lane, so they never wait behind a long training run; one waiting cheap job serves every
annotation saved before it starts.

This module is also a built-in plugin (``plugins.DEFAULT_PLUGINS``): it hears annotations
saved and deleted and gold changes, and applies the above. Manual training requests
(``request_training``) go through it whether or not the plugin is registered.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_

from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Job, Project, utcnow
from leanlife_server.db.staging import published
from leanlife_server.events import AnnotationDeleted, AnnotationSaved, GoldChanged
from leanlife_server.hookspecs import hookimpl
from leanlife_server.jobs import FAILED, QUEUED, TrainingUnavailable, create_job, reap, reap_now_and_then, submit
from leanlife_server.jobs.lanes import SMALL
from leanlife_server.pipeline.recommenders import cheap_recommenders, learned_recommenders
from leanlife_server.pipeline.retrain import CHEAP_KIND, KIND, TARGET

log = logging.getLogger(__name__)

MANUAL, EVERY_N, EVERY_T = "manual", "every_n", "every_t"


class TrainingQueued(RuntimeError):
    """A retraining job of the project is already waiting (answer 429)."""

    def __init__(self, job: Job):
        super().__init__(f"retraining job {job.id} is already queued for this project")
        self.job = job


def _lock_project(project_id: int) -> None:
    # A no-op write: takes the project's row lock (PostgreSQL) or the write lock (SQLite)
    # until commit, so policy decisions for one project happen one at a time.
    db.session.commit()
    db.session.execute(db.update(Project).where(Project.id == project_id).values(id=Project.id))


def _counted_jobs(project_id: int):
    """Retraining jobs that consumed (or will consume) annotations: every one except those
    that failed before they started (the queue was down)."""
    return db.select(Job).where(Job.project_id == project_id, Job.kind == KIND,
                                or_(Job.state != FAILED, Job.started_at.is_not(None)))


def _policy_fires(project: Project) -> bool:
    policy = project.retrain_policy or {}
    mode = policy.get("mode", MANUAL)
    if mode == MANUAL or not learned_recommenders(project):
        return False
    last = db.session.scalars(_counted_jobs(project.id).order_by(Job.created_at.desc()).limit(1)).first()
    if mode == EVERY_N:
        new = db.select(db.func.count(Annotation.id)).where(Annotation.project_id == project.id,
                                                            published(Annotation.import_id))
        if last is not None:
            new = new.where(Annotation.updated_at > last.created_at)
        return db.session.scalar(new) >= policy.get("n", 1)
    if mode == EVERY_T:
        recent = _counted_jobs(project.id).where(
            Job.created_at > utcnow() - timedelta(seconds=policy.get("seconds", 0)))
        return db.session.scalars(recent.limit(1)).first() is None
    return False


def _queue_training(project: Project, user_id: int | None, device: str | None, reason: str) -> Job:
    """Inside the project lock: refuse when a job waits, else create and submit one."""
    reap(project.id)
    _lock_project(project.id)
    waiting = db.session.scalars(db.select(Job).where(
        Job.project_id == project.id, Job.kind == KIND, Job.state == QUEUED).limit(1)).first()
    if waiting is not None:
        db.session.commit()
        raise TrainingQueued(waiting)
    job = create_job(project.id, KIND, {"reason": reason}, user_id, device or project.device)
    db.session.commit()
    submit(job, TARGET)
    return job


def request_training(project: Project, user_id: int | None = None, device: str | None = None) -> Job:
    """Train now. Raises ``TrainingQueued``, ``TrainingUnavailable``, or ``TooManyJobs`` (the
    user or the project has as many jobs as allowed; a policy's own runs are never refused)."""
    return _queue_training(project, user_id, device, "requested")


def _queue_cheap_training(project: Project) -> Job | None:
    """A cheap job, unless one already waits (it will read this annotation too). Checked again
    inside the project lock: saves at the same moment each queued one otherwise, and a burst
    of them filled the project's job limit, so its owner could not train (429)."""
    if not cheap_recommenders(project):
        return None
    reap_now_and_then(project.id)
    waiting = db.select(Job.id).where(Job.project_id == project.id, Job.kind == CHEAP_KIND,
                                      Job.state == QUEUED).limit(1)
    if db.session.scalars(waiting).first() is not None:  # the usual case, without the lock
        return None
    _lock_project(project.id)
    if db.session.scalars(waiting).first() is not None:
        db.session.commit()
        return None
    job = create_job(project.id, CHEAP_KIND, {"reason": "annotation saved"}, None, project.device)
    db.session.commit()
    submit(job, TARGET, SMALL)
    return job


def annotations_changed(project_id: int) -> Job | None:
    """Retrain the cheap recommenders after an annotation was committed or deleted; returns
    the cheap job queued, if any. Never raises (as ``annotation_saved``)."""
    try:
        return _queue_cheap_training(db.session.get(Project, project_id))
    except TrainingUnavailable as exc:
        log.warning("project %s: cheap retraining postponed: %s", project_id, exc)
    except Exception:
        db.session.rollback()
        log.exception("project %s: queueing the cheap recommenders failed; the annotation is saved",
                      project_id)
    return None


def annotation_saved(project_id: int) -> Job | None:
    """Retrain the cheap recommenders, then apply the retraining policy, after an annotation
    was committed; returns the policy's job, if any. Never raises: a down queue or worker
    must not stop annotating (the next trigger catches up)."""
    annotations_changed(project_id)
    try:
        project = db.session.get(Project, project_id)
        if not _policy_fires(project):
            return None
        return _queue_training(project, None, None, f"policy {project.retrain_policy.get('mode')}")
    except TrainingQueued:
        return None
    except TrainingUnavailable as exc:
        log.warning("project %s: retraining postponed: %s", project_id, exc)
        return None
    except Exception:
        db.session.rollback()
        log.exception("project %s: the retraining policy failed; the annotation is saved", project_id)
        return None


@hookimpl
def leanlife_annotation_saved(event: AnnotationSaved) -> None:
    annotation_saved(event.project_id)


@hookimpl
def leanlife_annotation_deleted(event: AnnotationDeleted) -> None:
    annotations_changed(event.project_id)


@hookimpl
def leanlife_gold_changed(event: GoldChanged) -> None:
    annotations_changed(event.project_id)
