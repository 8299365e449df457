"""imported annotators: annotations.imported_annotator

The name an imported file gave an annotation's annotator when that name is not a member of
the project (a Label Studio user id, a doccano user): such annotations keep user_id null, and
this column keeps two imported annotators' work apart (and lets exports write the name
back). Nullable, no default: ALTER TABLE ADD COLUMN, no rebuild.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('annotations', sa.Column('imported_annotator', sa.String(150), nullable=True))


def downgrade() -> None:
    op.drop_column('annotations', 'imported_annotator')
