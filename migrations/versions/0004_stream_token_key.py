"""stream tokens name the API key that minted them, so revoking the key revokes its tokens

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stream_tokens", sa.Column("api_key_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stream_tokens") as batch:
        batch.drop_column("api_key_id")
