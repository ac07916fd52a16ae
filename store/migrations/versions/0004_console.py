"""business console

Revision ID: 0004_console
Revises: 0003_stream_tokens
Create Date: 2026-12-06

What the business console edits and who may log in to it: a business's language and greeting name,
dates with special hours (holidays), the Twilio numbers that reach it, console users, and the
deployment's shared session secret.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_console'
down_revision: str | None = '0003_stream_tokens'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('businesses') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), server_default='he', nullable=False))
        batch.add_column(sa.Column('greeting_name', sa.String(length=200), nullable=True))
    with op.batch_alter_table('appointment_settings') as batch:
        batch.add_column(sa.Column('special_days_json', sa.JSON(), nullable=True))
    op.create_table('business_phones',
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('phone')
    )
    op.create_index('ix_business_phones_business_id', 'business_phones', ['business_id'])
    op.create_table('console_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('server_secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_index('ix_call_sessions_business_started', 'call_sessions', ['business_id', 'started_at'])


def downgrade() -> None:
    op.drop_index('ix_call_sessions_business_started', table_name='call_sessions')
    op.drop_table('server_secrets')
    op.drop_table('console_users')
    op.drop_index('ix_business_phones_business_id', table_name='business_phones')
    op.drop_table('business_phones')
    with op.batch_alter_table('appointment_settings') as batch:
        batch.drop_column('special_days_json')
    with op.batch_alter_table('businesses') as batch:
        batch.drop_column('greeting_name')
        batch.drop_column('language')
