"""annotation attributes: annotations.attributes

A task plugin's own part of an annotation (the generic shape is label, span, links): a JSON
object the task validates, e.g. an aspect term's polarity. Nullable, no default: ALTER TABLE
ADD COLUMN, no rebuild; existing annotations have none.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('annotations', sa.Column('attributes', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('annotations', 'attributes')
