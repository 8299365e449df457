"""overlap: documents for several annotators (projects.overlap, overlap_share), leases per annotator

``projects`` gains two NOT NULL columns with server defaults (ALTER TABLE ADD COLUMN, no
rebuild). A document lease was unique per document; with overlap up to ``overlap``
annotators hold one document at once, so it is unique per (document, annotator). Leases are
short-lived (``LEANLIFE_LEASE_SECONDS``) and nothing refers to them, so the table is made
anew rather than rebuilt: a lease held during the upgrade is given back, and its annotator's
next request leases again.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _leases(unique: sa.UniqueConstraint) -> None:
    op.drop_index('ix_document_leases_user_id', table_name='document_leases')
    op.drop_index('ix_document_leases_project_expires', table_name='document_leases')
    op.drop_table('document_leases')
    op.create_table(
        'document_leases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        unique)
    op.create_index('ix_document_leases_project_expires', 'document_leases', ['project_id', 'expires_at'])
    op.create_index('ix_document_leases_user_id', 'document_leases', ['user_id'])


def upgrade() -> None:
    op.add_column('projects', sa.Column('overlap', sa.Integer(), server_default='1', nullable=False))
    op.add_column('projects', sa.Column('overlap_share', sa.Float(), server_default='1', nullable=False))
    _leases(sa.UniqueConstraint('document_id', 'user_id', name='uq_document_leases_document_user'))


def downgrade() -> None:
    _leases(sa.UniqueConstraint('document_id'))
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+): ``projects`` is referred to by every table.
    op.drop_column('projects', 'overlap_share')
    op.drop_column('projects', 'overlap')
