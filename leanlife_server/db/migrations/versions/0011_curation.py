"""curation: annotations.gold and documents.review_state

``annotations.gold`` (NOT NULL, server default false) marks a document's gold layer, written
by owners and belonging to no user; ``documents.review_state`` (NOT NULL, server default
'annotated') is 'annotated', 'in review' or 'curated'. Both ALTER TABLE ADD COLUMN with a
server default: no rebuild, existing rows get the default.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('annotations', sa.Column('gold', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('documents', sa.Column('review_state', sa.String(20), server_default='annotated',
                                         nullable=False))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), as 0009 and 0010.
    op.drop_column('documents', 'review_state')
    op.drop_column('annotations', 'gold')
