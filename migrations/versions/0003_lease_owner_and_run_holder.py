"""lease owner (host, pid, acquired_at) and the holder of a sync run

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.base

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('acquired_at', hub.storage.base.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holder', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_column('holder')
    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.drop_column('acquired_at')
        batch_op.drop_column('pid')
        batch_op.drop_column('host')
