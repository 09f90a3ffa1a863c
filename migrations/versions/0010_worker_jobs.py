"""worker jobs: procrastinate's queue (PostgreSQL), job schedule, job errors, shared rate buckets

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.base

revision = '0010'
down_revision = "0009"
branch_labels = None
depends_on = None

# procrastinate's own objects, dropped on the way down (its tables go with CASCADE).
PROCRASTINATE_TYPES = ('procrastinate_job_status', 'procrastinate_job_event_type', 'procrastinate_job_to_defer_v1')


def upgrade() -> None:
    op.create_table('job_schedule',
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('stream', sa.String(length=16), nullable=False),
    sa.Column('next_at', hub.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_job_schedule_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'stream', name=op.f('pk_job_schedule'))
    )
    op.create_table('job_errors',
    sa.Column('job_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('retryable', sa.Boolean(), nullable=False),
    sa.Column('exit_code', sa.Integer(), nullable=False),
    sa.Column('at', hub.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job_errors'))
    )
    op.create_table('rate_buckets',
    sa.Column('shop', sa.String(length=64), nullable=False),
    sa.Column('tat', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('shop', name=op.f('pk_rate_buckets'))
    )
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # procrastinate's schema, as its own SQL file has it (the queue `hub worker` runs on);
        # on the driver's connection, inside this migration's transaction: the file is many
        # statements and holds %-signs and colons that are SQL, not parameters.
        from procrastinate.schema import SchemaManager

        bind.connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        bind.exec_driver_sql(
            'DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,'
            ' procrastinate_workers CASCADE'
        )
        bind.exec_driver_sql(
            "DO $$ DECLARE f regprocedure; BEGIN"
            " FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname LIKE 'procrastinate%%' AND n.nspname = current_schema()"
            " LOOP EXECUTE 'DROP ROUTINE ' || f || ' CASCADE'; END LOOP; END $$"
        )
        for name in PROCRASTINATE_TYPES:
            bind.exec_driver_sql(f'DROP TYPE IF EXISTS {name} CASCADE')
    op.drop_table('rate_buckets')
    op.drop_table('job_errors')
    op.drop_table('job_schedule')
