"""listings.changed_at: when a listing row last changed (for the incremental stock picture)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('changed_at', hub.storage.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index('ix_listings_changed_at', ['changed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index('ix_listings_changed_at')
        batch_op.drop_column('changed_at')
