"""The Alembic migrations build, from nothing, exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from storage.database import alembic_config, current_revision, head_revision, is_up_to_date, upgrade
from storage.models import Base


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def test_upgrade_from_empty_builds_the_schema_of_the_models(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None and not is_up_to_date(empty_engine)
    upgrade(empty_engine)
    assert schema_differences(empty_engine) == []
    assert current_revision(empty_engine) == head_revision() and is_up_to_date(empty_engine)


def test_a_database_one_revision_behind_is_not_up_to_date_and_upgrade_brings_it_to_the_head(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine)
    config = alembic_config(empty_engine)
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    assert current_revision(empty_engine) != head_revision() and not is_up_to_date(empty_engine)
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision() and is_up_to_date(empty_engine)
    assert schema_differences(empty_engine) == []


def test_every_constraint_and_index_is_named(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    inspector = inspect(empty_engine)
    for table in Base.metadata.tables:
        names = [inspector.get_pk_constraint(table)["name"]]
        names += [fk["name"] for fk in inspector.get_foreign_keys(table)]
        names += [uq["name"] for uq in inspector.get_unique_constraints(table)]
        names += [ix["name"] for ix in inspector.get_indexes(table)]
        assert all(names) and names, (table, names)


def test_no_index_begins_another_of_its_table(empty_engine: Engine) -> None:
    """An index whose columns begin another's serves nothing the longer one does not, and costs
    every insert and update of its table an entry of its own (`ix_events_at` did, beside
    `ix_events_at_id`). A unique one stays: it is a constraint, not only a way in."""
    upgrade(empty_engine)
    inspector = inspect(empty_engine)
    redundant, looked_at = [], 0
    for table in Base.metadata.tables:
        indexes = [
            (ix["name"], list(ix["column_names"]), bool(ix["unique"])) for ix in inspector.get_indexes(table)
        ]
        looked_at += len(indexes)
        keys = [(name, columns) for name, columns, _ in indexes]
        keys.append(("primary key", list(inspector.get_pk_constraint(table)["constrained_columns"])))
        for name, columns, unique in indexes:
            longer = [other for other, those in keys if other != name and those[: len(columns)] == columns]
            if longer and not unique:
                redundant.append((table, name, longer))
    assert looked_at > 10 and redundant == []


def test_upgrade_twice_is_harmless_and_downgrade_undoes_everything(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)
    config = alembic_config(empty_engine)
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    upgrade(str(empty_engine.url.render_as_string(hide_password=False)))
    assert schema_differences(empty_engine) == []
