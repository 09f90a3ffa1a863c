"""encrypt shop secrets

Seals every clear-text shop secret (app secret, access and refresh tokens) with the hub's
secret key (see hub.storage.secretbox; the key never enters the database). Downgrading
writes them back in clear text, and only when asked: `hub db downgrade REV --decrypt-secrets`
(a downgrade to 'base' drops the table, so it needs no key).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.errors import ConfigError
from hub.storage.secretbox import SecretBox, is_sealed

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

COLUMNS = ('app_secret', 'access_token', 'refresh_token')
shops = sa.table(
    'shops',
    sa.column('id', sa.Integer),
    sa.column('name', sa.String),
    *(sa.column(name, sa.Text) for name in COLUMNS),
    sa.column('options', sa.JSON),
)


def _attributes() -> dict:
    return op.get_context().config.attributes


def _rows() -> list:
    return list(op.get_bind().execute(sa.select(shops).order_by(shops.c.id)).mappings())


def upgrade() -> None:
    box: SecretBox = _attributes()['secrets']
    bind = op.get_bind()
    for row in _rows():
        sealed = {name: box.seal(row[name]) for name in COLUMNS if row[name] and not is_sealed(row[name])}
        if sealed:
            bind.execute(shops.update().where(shops.c.id == row['id']).values(**sealed))
            _attributes()['scrub'] = True  # the clear text's old copies go once this commits


def downgrade() -> None:
    attributes = _attributes()
    rows = [
        row for row in _rows()
        if any(is_sealed(row[name]) for name in COLUMNS) or any(is_sealed(v) for v in (row['options'] or {}).values())
    ]
    if not rows or attributes.get('dropping_all'):
        return
    if not attributes.get('decrypt_secrets'):
        raise ConfigError(
            'downgrading below revision 0006 writes every stored shop secret back in clear text; '
            'to do that, run `hub db downgrade REVISION --decrypt-secrets`'
        )
    box: SecretBox = attributes['secrets']
    bind = op.get_bind()
    for row in rows:
        def clear(name: str, value: str) -> str:
            what = f"the {name.replace('_', ' ')} of shop {row['name']!r}"
            return box.open(value, what=what)

        values = {name: clear(name, row[name]) for name in COLUMNS if is_sealed(row[name])}
        options = row['options'] or {}
        if any(is_sealed(v) for v in options.values()):
            values['options'] = {k: clear(k, v) if is_sealed(v) else v for k, v in options.items()}
        bind.execute(shops.update().where(shops.c.id == row['id']).values(**values))
