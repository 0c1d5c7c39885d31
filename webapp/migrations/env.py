"""Alembic environment.

The target metadata is `flask_appbuilder.Model.metadata`, which holds the application's
tables *and* FAB's security tables; Flask-SQLAlchemy's own `db.metadata` is empty here,
and autogenerate against it would propose dropping everything (DESIGN §12).
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from webapp.models import metadata

config = context.config
fileConfig(config.config_file_name)
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url() -> str:
    return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")


config.set_main_option("sqlalchemy.url", get_engine_url())


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# Constraints that live in the migrations only (see the model's comment on each).
MIGRATION_ONLY = {"fk_member_card_party_card"}


def include_object(object_, name, type_, reflected, compare_to) -> bool:
    return not (reflected and type_ == "foreign_key_constraint" and name in MIGRATION_ONLY)


def run_migrations_online() -> None:
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    connectable = get_engine()
    with connectable.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode rebuilds tables that others reference; SQLite would refuse the
            # rebuild's DROP TABLE with foreign keys on (the pragma is per connection).
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end the autobegun transaction; migrations open their own
        context.configure(
            connection=connection,
            target_metadata=metadata,
            process_revision_directives=process_revision_directives,
            # SQLite alters tables by copying them.
            render_as_batch=True,
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
