"""push inbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('item_id', sa.String(length=64), nullable=True),
    sa.Column('sku_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('received_at', hub.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', hub.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_push_inbox_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_inbox')),
    sa.UniqueConstraint('shop_id', 'message_id', name=op.f('uq_push_inbox_shop_id_message_id'))
    )
    with op.batch_alter_table('push_inbox', schema=None) as batch_op:
        batch_op.create_index('ix_push_inbox_pending', ['processed_at', 'shop_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('push_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_push_inbox_pending')

    op.drop_table('push_inbox')
