"""sessions: server-side browser sessions (user_sessions), and users.username_key, the
case-folded NFKC username that must be unique

Users whose names differ only by case or Unicode form (``Alice`` and ``alice``) could not all
keep their names: the oldest keeps it, each later one is renamed ``NAME-ID`` (logged as a
warning). Their passwords, tokens and annotations are untouched.

Revision ID: 0004
Revises: 0003
"""
import logging
import unicodedata

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
USERNAME_MAX_LENGTH = 150


def _key(name: str) -> str:
    # credentials.username_key as of this revision: a migration must not change with the app.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _renamed(username: str, user_id: int, taken: set[str]) -> str:
    """``NAME-ID`` (``NAME-ID-2``, ... should that be taken too), cut to fit the column."""
    n = 1
    while True:
        suffix = f"-{user_id}" if n == 1 else f"-{user_id}-{n}"
        name = username[:USERNAME_MAX_LENGTH - len(suffix)] + suffix
        if _key(name) not in taken:
            return name
        n += 1


def _unique_names(rows) -> list[tuple[int, str, str]]:
    """(id, username, key) per user, oldest first; a later user whose key is taken is renamed."""
    taken = {_key(username) for _, username in rows}  # a rename must not take a later user's key
    seen: set[str] = set()
    result = []
    for user_id, username in rows:
        key = _key(username)
        if key in seen:
            name = _renamed(username, user_id, taken)
            log.warning("user %s: %r differs from an older user's name only by case or Unicode "
                        "form; renamed %r", user_id, username, name)
            username, key = name, _key(name)
            taken.add(key)
        seen.add(key)
        result.append((user_id, username, key))
    return result


def upgrade() -> None:
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id'])

    # NOT NULL with a placeholder default, filled below: rebuilding ``users`` (SQLite's way to
    # change a column) would drop the table, and with it, through ON DELETE CASCADE, every
    # membership and token.
    op.add_column('users', sa.Column('username_key', sa.Text(), nullable=False, server_default=''))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('username', sa.String),
                     sa.column('username_key', sa.Text))
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    for user_id, username, key in _unique_names(rows):
        bind.execute(users.update().where(users.c.id == user_id)
                     .values(username=username, username_key=key))
    op.create_index('ix_users_username_key', 'users', ['username_key'], unique=True)
    if bind.dialect.name != 'sqlite':
        op.alter_column('users', 'username_key', server_default=None)


def downgrade() -> None:
    op.drop_index('ix_users_username_key', table_name='users')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), never a rebuild of users (see upgrade).
    op.drop_column('users', 'username_key')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
