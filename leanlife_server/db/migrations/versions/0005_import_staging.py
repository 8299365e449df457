"""import staging: imports write their rows in chunks, hidden (``import_id``) until one short
final transaction deletes their ``import_stagings`` row

Plain nullable columns without a foreign key: ALTER TABLE ADD COLUMN, never a rebuild of
``documents`` or ``annotations`` (whose drop would cascade), and publishing an import does
not touch its rows.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_stagings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('labels_created', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('touched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_index('ix_import_stagings_project_id', 'import_stagings', ['project_id'])
    op.add_column('documents', sa.Column('import_id', sa.Integer(), nullable=True))
    op.create_index('ix_documents_import_id', 'documents', ['import_id'])
    op.add_column('annotations', sa.Column('import_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), never a rebuild (see the docstring).
    op.drop_column('annotations', 'import_id')
    op.drop_index('ix_documents_import_id', table_name='documents')
    op.drop_column('documents', 'import_id')
    op.drop_index('ix_import_stagings_project_id', table_name='import_stagings')
    op.drop_table('import_stagings')
