"""The REST API: one blueprint per resource, all under /api/v1."""


from flask import Flask, request

from leanlife_server.api import (agreement, annotations, curation, documents, explanations, jobs, labels, members, meta,
                                 models, projects, queue, transfers, users)
from leanlife_server.api import auth as auth_api
from leanlife_server.auth import load_current_user

BLUEPRINTS = (meta.bp, auth_api.bp, users.bp, projects.bp, labels.bp, members.bp,
              documents.bp, annotations.bp, jobs.bp, models.bp, queue.bp, transfers.bp,
              explanations.bp, agreement.bp, curation.bp)


def register_api(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.before_request
    def _authenticate() -> None:
        if request.path.startswith("/api/") and request.endpoint not in auth_api.CSRF_EXEMPT:
            load_current_user()
