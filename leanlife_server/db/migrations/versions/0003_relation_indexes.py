"""relation indexes: annotations.subject_id and object_id, so that deleting annotations (and
the documents and projects holding them) does not scan every annotation per row

Revision ID: 0003
Revises: 0002
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_annotations_subject_id', 'annotations', ['subject_id'])
    op.create_index('ix_annotations_object_id', 'annotations', ['object_id'])


def downgrade() -> None:
    op.drop_index('ix_annotations_object_id', table_name='annotations')
    op.drop_index('ix_annotations_subject_id', table_name='annotations')
