"""Alembic environment: runs on the connection that ``leanlife_server.db.migrate`` passes in."""

from alembic import context

from leanlife_server.db import db
from leanlife_server.db import models  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=db.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
