"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 09:36:57.843137
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts'))
    )
    op.create_table('server_secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_server_secrets'))
    )
    op.create_table('access_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('access_key_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lookup', sa.String(length=32), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_access_keys_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_keys')),
    sa.UniqueConstraint('access_key_id', name=op.f('uq_access_keys_access_key_id')),
    sa.UniqueConstraint('lookup', name=op.f('uq_access_keys_lookup'))
    )
    with op.batch_alter_table('access_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_keys_account_id'), ['account_id'], unique=False)

    op.create_table('usage_daily',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('model_uuid', sa.String(length=200), nullable=False),
    sa.Column('access_key_id', sa.String(length=64), nullable=False),
    sa.Column('model_type', sa.String(length=100), server_default='', nullable=False),
    sa.Column('deduct_count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('deduct_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('refund_count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('refund_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('completed_count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_used_at', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_price', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_usage_daily_account_id_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'day', 'model_uuid', 'access_key_id', name=op.f('pk_usage_daily'))
    )
    op.create_table('predictions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('uuid', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('ak_id', sa.Integer(), nullable=False),
    sa.Column('model_uuid', sa.String(length=200), nullable=False),
    sa.Column('model_type', sa.String(length=100), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_predictions_account_id_accounts')),
    sa.ForeignKeyConstraint(['ak_id'], ['access_keys.id'], name=op.f('fk_predictions_ak_id_access_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('uuid', name=op.f('uq_predictions_uuid'))
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_account_uuid', ['account_id', 'uuid'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('uuid', sa.String(length=32), nullable=False),
    sa.Column('prediction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('ak_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('origin_price', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_orders_account_id_accounts')),
    sa.ForeignKeyConstraint(['ak_id'], ['access_keys.id'], name=op.f('fk_orders_ak_id_access_keys')),
    sa.ForeignKeyConstraint(['prediction_id'], ['predictions.id'], name=op.f('fk_orders_prediction_id_predictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('prediction_id', name=op.f('uq_orders_prediction_id')),
    sa.UniqueConstraint('uuid', name=op.f('uq_orders_uuid'))
    )
    op.create_table('billing_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('uuid', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('billing_type', sa.String(length=16), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.Column('ak_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('prediction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_uuid', sa.String(length=200), nullable=True),
    sa.Column('access_key_id', sa.String(length=64), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_records_account_id_accounts')),
    sa.ForeignKeyConstraint(['ak_id'], ['access_keys.id'], name=op.f('fk_billing_records_ak_id_access_keys')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_billing_records_order_id_orders')),
    sa.ForeignKeyConstraint(['prediction_id'], ['predictions.id'], name=op.f('fk_billing_records_prediction_id_predictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_records')),
    sa.UniqueConstraint('account_id', 'billing_type', 'reference', name='uq_billing_records_reference'),
    sa.UniqueConstraint('order_id', 'billing_type', name='uq_billing_records_order_type'),
    sa.UniqueConstraint('uuid', name=op.f('uq_billing_records_uuid'))
    )
    with op.batch_alter_table('billing_records', schema=None) as batch_op:
        batch_op.create_index('ix_billing_records_account_key_time', ['account_id', 'access_key_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_billing_records_account_model_time', ['account_id', 'model_uuid', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_billing_records_account_time', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_billing_records_account_type_time', ['account_id', 'billing_type', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_billing_records_prediction', ['prediction_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('billing_records', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_records_prediction')
        batch_op.drop_index('ix_billing_records_account_type_time')
        batch_op.drop_index('ix_billing_records_account_time')
        batch_op.drop_index('ix_billing_records_account_model_time')
        batch_op.drop_index('ix_billing_records_account_key_time')

    op.drop_table('billing_records')
    op.drop_table('orders')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_account_uuid')

    op.drop_table('predictions')
    op.drop_table('usage_daily')
    with op.batch_alter_table('access_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_keys_account_id'))

    op.drop_table('access_keys')
    op.drop_table('server_secrets')
    op.drop_table('accounts')
