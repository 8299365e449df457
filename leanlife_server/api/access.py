"""Project-level authorization: outsiders see nothing (404), annotators annotate, owners manage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import Row, bindparam

from leanlife_server.auth import require_user
from leanlife_server.db import db
from leanlife_server.db.models import OWNER, Membership, Project, User
from leanlife_server.errors import ApiError, not_found


@dataclass
class ProjectAccess:
    project: Project
    user: User
    membership: Optional[Membership]  # None for a site admin who is not a member

    @property
    def is_owner(self) -> bool:
        return self.user.is_admin or (self.membership is not None and self.membership.role == OWNER)

    @property
    def sees_all_annotators(self) -> bool:
        return self.is_owner or self.project.annotators_see_others

    def can_read_user(self, user_id: int) -> bool:
        """Annotators read their own annotations, and others' where the owner allows it."""
        return user_id == self.user.id or self.sees_all_annotators


# Built once: every API request runs it, and building the statement cost as much as running it.
ACCESS_QUERY = (db.select(Project, Membership)
                .outerjoin(Membership, (Membership.project_id == Project.id)
                           & (Membership.user_id == bindparam("user_id")))
                .where(Project.id == bindparam("project_id")))


def access_of(row: Row | None, user: User, project_id: int, owner: bool) -> ProjectAccess:
    """The caller's access from a row of ``ACCESS_QUERY`` (or a query extending it): 404 for
    an outsider, 403 where ``owner`` is asked of a non-owner."""
    if row is None or (row.Membership is None and not user.is_admin):
        raise not_found(f"project {project_id}")
    access = ProjectAccess(row.Project, user, row.Membership)
    if owner and not access.is_owner:
        raise ApiError(403, "forbidden", "only the project's owners may do this")
    return access


def project_access(project_id: int, owner: bool = False) -> ProjectAccess:
    user = require_user()
    row = db.session.execute(ACCESS_QUERY, {"user_id": user.id, "project_id": project_id}).first()
    return access_of(row, user, project_id, owner)
