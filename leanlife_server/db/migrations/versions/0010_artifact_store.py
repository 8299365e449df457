"""artifact store: model_versions.artifact_path holds a store key; projects.versions_kept

Versions used to record the absolute path of their folder, always
``<data_dir>/models/project-<project_id>/version-<id>``. They now record a key in the
artifact store (``leanlife_server/storage.py``), whose default root is the data dir, so the
old folders keep working once their path becomes the key ``models/project-N/version-M``
(and keep working when the data dir moves). ``projects.versions_kept`` (NOT NULL, server
default 10: ALTER TABLE ADD COLUMN, no rebuild) is how many versions of each learned model
are kept besides the active one.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

VERSIONS = sa.table('model_versions', sa.column('id', sa.Integer()), sa.column('project_id', sa.Integer()),
                    sa.column('artifact_path', sa.String(500)))


def upgrade() -> None:
    op.add_column('projects', sa.Column('versions_kept', sa.Integer(), server_default='10', nullable=False))
    bind = op.get_bind()
    # Only absolute paths: a key is relative. Row by row, the same on SQLite and PostgreSQL.
    rows = bind.execute(sa.select(VERSIONS.c.id, VERSIONS.c.project_id)
                        .where(VERSIONS.c.artifact_path.like('/%'))).all()
    for version_id, project_id in rows:
        bind.execute(VERSIONS.update().where(VERSIONS.c.id == version_id)
                     .values(artifact_path=f'models/project-{project_id}/version-{version_id}'))


def downgrade() -> None:
    # Keys stay keys: the data dir they were relative to is unknown here.
    op.drop_column('projects', 'versions_kept')
