"""after-sale cases and their lines

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "after_sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("platform_case_id", sa.String(length=64), nullable=False),
        sa.Column("platform_order_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("platform_status", sa.String(length=48), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("created_at_platform", hub.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at_platform", hub.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stored_at", hub.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_after_sales_order_id_orders"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_after_sales_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_after_sales")),
        sa.UniqueConstraint(
            "shop_id", "platform_case_id", name=op.f("uq_after_sales_shop_id_platform_case_id")
        ),
    )
    with op.batch_alter_table("after_sales", schema=None) as batch_op:
        batch_op.create_index("ix_after_sales_created", ["created_at_platform"], unique=False)
        batch_op.create_index("ix_after_sales_order", ["shop_id", "platform_order_id"], unique=False)

    op.create_table(
        "after_sale_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("after_sale_id", sa.Integer(), nullable=False),
        sa.Column("line_key", sa.String(length=64), nullable=False),
        sa.Column("order_line_id", sa.String(length=64), nullable=True),
        sa.Column("platform_item_id", sa.String(length=64), nullable=False),
        sa.Column("platform_sku_id", sa.String(length=64), nullable=False),
        sa.Column("master_code", sa.String(length=64), nullable=True),
        sa.Column("sku_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("released", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("damaged", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "damaged >= 0 AND damaged <= received", name=op.f("ck_after_sale_lines_damaged_within_received")
        ),
        sa.CheckConstraint(
            "received >= 0 AND received <= quantity",
            name=op.f("ck_after_sale_lines_received_within_quantity"),
        ),
        sa.ForeignKeyConstraint(
            ["after_sale_id"],
            ["after_sales.id"],
            name=op.f("fk_after_sale_lines_after_sale_id_after_sales"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_after_sale_lines_sku_id_skus"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_after_sale_lines")),
        sa.UniqueConstraint(
            "after_sale_id", "line_key", name=op.f("uq_after_sale_lines_after_sale_id_line_key")
        ),
    )
    with op.batch_alter_table("after_sale_lines", schema=None) as batch_op:
        batch_op.create_index("ix_after_sale_lines_sku", ["sku_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("after_sale_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_after_sale_lines_sku")

    op.drop_table("after_sale_lines")
    with op.batch_alter_table("after_sales", schema=None) as batch_op:
        batch_op.drop_index("ix_after_sales_order")
        batch_op.drop_index("ix_after_sales_created")

    op.drop_table("after_sales")
