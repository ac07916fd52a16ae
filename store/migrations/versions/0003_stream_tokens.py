"""stream tokens

Revision ID: 0003_stream_tokens
Revises: 0002_callbacks
Create Date: 2026-12-05

A row per accepted media stream, keyed by CallSid: a stream token is honoured once in the whole
deployment, however many server processes share the database.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_stream_tokens'
down_revision: str | None = '0002_callbacks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stream_tokens',
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('call_sid'),
    sa.UniqueConstraint('token_digest')
    )


def downgrade() -> None:
    op.drop_table('stream_tokens')
