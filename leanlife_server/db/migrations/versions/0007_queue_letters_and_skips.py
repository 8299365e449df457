"""queue: documents.has_letters (documents without a letter go to the end of every queue)
and document_skips (an annotator's skipped documents)

``has_letters`` is a NOT NULL column with a server default: ALTER TABLE ADD COLUMN, no
rebuild of ``documents`` (whose drop would cascade). Existing documents are then checked in
pages by id, and only those without a letter are updated.

Revision ID: 0007
Revises: 0006
"""
import unicodedata

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

PAGE = 5000


def _has_letter(text: str) -> bool:
    # active/letters.py's has_letter as of this revision: a migration must not change with the app.
    return any(unicodedata.category(c).startswith("L") for c in text)


def upgrade() -> None:
    op.add_column('documents', sa.Column('has_letters', sa.Boolean(), server_default=sa.true(),
                                         nullable=False))
    documents = sa.table('documents', sa.column('id', sa.Integer()), sa.column('text', sa.Text()),
                         sa.column('has_letters', sa.Boolean()))
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(documents.c.id, documents.c.text).where(documents.c.id > last)
                            .order_by(documents.c.id).limit(PAGE)).all()
        if not rows:
            break
        without = [{"row_id": row.id} for row in rows if not _has_letter(row.text)]
        if without:
            conn.execute(documents.update().where(documents.c.id == sa.bindparam("row_id"))
                         .values(has_letters=False), without)
        last = rows[-1].id
    op.create_table('document_skips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'user_id')
    )
    op.create_index('ix_document_skips_project_id', 'document_skips', ['project_id'])
    op.create_index('ix_document_skips_document_id', 'document_skips', ['document_id'])
    op.create_index('ix_document_skips_user_id', 'document_skips', ['user_id'])


def downgrade() -> None:
    op.drop_index('ix_document_skips_user_id', table_name='document_skips')
    op.drop_index('ix_document_skips_document_id', table_name='document_skips')
    op.drop_index('ix_document_skips_project_id', table_name='document_skips')
    op.drop_table('document_skips')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), never a rebuild (see the docstring).
    op.drop_column('documents', 'has_letters')
