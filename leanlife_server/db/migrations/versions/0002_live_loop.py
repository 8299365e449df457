"""live loop: job heartbeats, document confidence, document leases

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('uncertainty_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confidence', sa.Float(), nullable=True))
    op.create_table('document_leases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id')
    )
    with op.batch_alter_table('document_leases', schema=None) as batch_op:
        batch_op.create_index('ix_document_leases_project_expires', ['project_id', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_leases_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document_leases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_leases_user_id'))
        batch_op.drop_index('ix_document_leases_project_expires')
    op.drop_table('document_leases')
    with op.batch_alter_table('uncertainty_scores', schema=None) as batch_op:
        batch_op.drop_column('confidence')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
