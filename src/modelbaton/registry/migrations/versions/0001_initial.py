"""The registry's first schema: models, versions, files, receipts, reviews, stages,
tags, aliases, comments, owners, transfers, users, tokens, policies and the audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    head = op.create_table('baton_audit_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    # The audit chain starts from a genesis hash of zeros.
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table('baton_config',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key')
    )
    op.create_table('baton_events',
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('model', sa.String(length=128), nullable=True),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('details', sa.Text(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq')
    )
    op.create_index('ix_baton_events_model', 'baton_events', ['model'], unique=False)
    op.create_table('baton_models',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )
    op.create_table('baton_policies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('set_by', sa.String(length=128), nullable=False),
        sa.Column('set_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_table('baton_users',
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name')
    )
    op.create_table('baton_owners',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_id', sa.Integer(), nullable=False),
        sa.Column('responsibility', sa.String(length=32), nullable=False),
        sa.Column('user', sa.String(length=128), nullable=False),
        sa.Column('since', sa.DateTime(), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['model_id'], ['baton_models.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_baton_owners_model', 'baton_owners', ['model_id'], unique=False)
    op.create_table('baton_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user', sa.String(length=128), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=128), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user'], ['baton_users.name'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_sha256')
    )
    op.create_table('baton_transfers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_id', sa.Integer(), nullable=False),
        sa.Column('responsibility', sa.String(length=32), nullable=False),
        sa.Column('from_user', sa.String(length=128), nullable=False),
        sa.Column('to_user', sa.String(length=128), nullable=False),
        sa.Column('shadow_days', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('offered_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['model_id'], ['baton_models.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_baton_transfers_model', 'baton_transfers', ['model_id'], unique=False)
    op.create_table('baton_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=128), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('pushed_by', sa.String(length=128), nullable=False),
        sa.Column('pushed_at', sa.DateTime(), nullable=False),
        sa.Column('stage_since', sa.DateTime(), nullable=False),
        sa.Column('rolled_back_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['model_id'], ['baton_models.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('model_id', 'number', name='uq_baton_versions_number')
    )
    op.create_index('ix_baton_versions_digest', 'baton_versions', ['digest'], unique=False)
    op.create_index('ix_baton_versions_stage', 'baton_versions', ['model_id', 'stage'],
                    unique=False)
    op.create_index('uq_baton_versions_production', 'baton_versions', ['model_id'],
                    unique=True, sqlite_where=sa.text("stage = 'production'"),
                    postgresql_where=sa.text("stage = 'production'"))
    op.create_table('baton_aliases',
        sa.Column('model_id', sa.Integer(), nullable=False),
        sa.Column('alias', sa.String(length=128), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['model_id'], ['baton_models.id'], ),
        sa.ForeignKeyConstraint(['version_id'], ['baton_versions.id'], ),
        sa.PrimaryKeyConstraint('model_id', 'alias')
    )
    op.create_table('baton_comments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['baton_versions.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_baton_comments_version', 'baton_comments', ['version_id'], unique=False)
    op.create_table('baton_files',
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=1024), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['baton_versions.id'], ),
        sa.PrimaryKeyConstraint('version_id', 'path')
    )
    op.create_index('ix_baton_files_sha256', 'baton_files', ['sha256'], unique=False)
    op.create_table('baton_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('attached_by', sa.String(length=128), nullable=False),
        sa.Column('attached_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['baton_versions.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('version_id', 'sha256', name='uq_baton_receipts_body')
    )
    op.create_table('baton_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('decision', sa.String(length=8), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('void', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['baton_versions.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_baton_reviews_version', 'baton_reviews', ['version_id'], unique=False)
    op.create_table('baton_stage_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('from_stage', sa.String(length=16), nullable=False),
        sa.Column('to_stage', sa.String(length=16), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['baton_versions.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_baton_stage_changes_version', 'baton_stage_changes', ['version_id'],
                    unique=False)
    op.create_table('baton_tags',
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('tag', sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['baton_versions.id'], ),
        sa.PrimaryKeyConstraint('version_id', 'tag')
    )


def downgrade() -> None:
    op.drop_table('baton_tags')
    op.drop_table('baton_stage_changes')
    op.drop_table('baton_reviews')
    op.drop_table('baton_receipts')
    op.drop_table('baton_files')
    op.drop_table('baton_comments')
    op.drop_table('baton_aliases')
    op.drop_table('baton_versions')
    op.drop_table('baton_transfers')
    op.drop_table('baton_tokens')
    op.drop_table('baton_owners')
    op.drop_table('baton_users')
    op.drop_table('baton_policies')
    op.drop_table('baton_models')
    op.drop_table('baton_events')
    op.drop_table('baton_config')
    op.drop_table('baton_audit_head')
