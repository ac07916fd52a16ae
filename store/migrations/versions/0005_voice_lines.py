"""voice lines and per-business models

Revision ID: 0005_voice_lines
Revises: 0004_console
Create Date: 2026-12-07

The audio of the runtime's own lines, per business (a recording the business uploaded, or what the
model said the first time it spoke the line for a voice), and a business's own Realtime and
transcription models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_voice_lines'
down_revision: str | None = '0004_console'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('businesses') as batch:
        batch.add_column(sa.Column('realtime_model', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('transcription_model', sa.String(length=100), nullable=True))
    op.create_table('voice_lines',
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('voice', sa.String(length=64), nullable=False),
    sa.Column('audio', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('business_id', 'line', 'language', 'source', 'voice')
    )


def downgrade() -> None:
    op.drop_table('voice_lines')
    with op.batch_alter_table('businesses') as batch:
        batch.drop_column('transcription_model')
        batch.drop_column('realtime_model')
