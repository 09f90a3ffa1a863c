"""bundle SKUs: the components (and quantities) each bundle is made of

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sku_components',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity >= 1', name=op.f('ck_sku_components_component_quantity_positive')),
    sa.CheckConstraint('bundle_id <> component_id', name=op.f('ck_sku_components_component_not_bundle')),
    sa.ForeignKeyConstraint(['bundle_id'], ['skus.id'], name=op.f('fk_sku_components_bundle_id_skus'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['component_id'], ['skus.id'], name=op.f('fk_sku_components_component_id_skus'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sku_components')),
    sa.UniqueConstraint('bundle_id', 'component_id', name=op.f('uq_sku_components_bundle_id_component_id'))
    )
    op.create_index('ix_sku_components_component', 'sku_components', ['component_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sku_components_component', table_name='sku_components')
    op.drop_table('sku_components')
