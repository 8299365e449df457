"""recommenders: a project may run several models at once (``projects.recommenders``, null:
the default list of docs/models.md), each with its own active version

A nullable column: ALTER TABLE ADD COLUMN, no rebuild of ``projects`` (whose drop would
cascade). Active versions were one per project, so they are one per (project, model) already.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('projects', sa.Column('recommenders', sa.JSON(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), never a rebuild (see the docstring).
    op.drop_column('projects', 'recommenders')
