"""The local stack's AWS region and account (moto's default account): one place, importable without moto."""

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
