"""model_versions.number: versions counted per project (1, 2, ...) beside the global id

Added NOT NULL with a server default (ALTER TABLE ADD COLUMN, no rebuild of
``model_versions``, whose drop would cascade to jobs and recommendations), then each
project's existing versions are numbered in id order, and a unique index keeps numbers
apart from then on.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('model_versions', sa.Column('number', sa.Integer(), server_default='0', nullable=False))
    versions = sa.table('model_versions', sa.column('id', sa.Integer()),
                        sa.column('project_id', sa.Integer()), sa.column('number', sa.Integer()))
    earlier = versions.alias('earlier')
    # The count of the project's versions up to this one: the same on SQLite and PostgreSQL.
    position = (sa.select(sa.func.count()).select_from(earlier)
                .where(earlier.c.project_id == versions.c.project_id, earlier.c.id <= versions.c.id)
                .scalar_subquery())
    op.get_bind().execute(versions.update().values(number=position))
    op.create_index('uq_model_versions_project_number', 'model_versions', ['project_id', 'number'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_model_versions_project_number', table_name='model_versions')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), never a rebuild (see the docstring).
    op.drop_column('model_versions', 'number')
