"""project default for shown suggestions: projects.min_recommendation_confidence

The confidence below which a member who has not chosen their own threshold is not shown a
suggestion. Existing projects get 0 (everything shown, as before); new projects start with
their task's suggestion (TaskDefinition.suggested_min_confidence).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('projects', sa.Column('min_recommendation_confidence', sa.Float(), server_default='0',
                                        nullable=False))


def downgrade() -> None:
    op.drop_column('projects', 'min_recommendation_confidence')
