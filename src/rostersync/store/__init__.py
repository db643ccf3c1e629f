"""The Educator Portal database: tables, migrations, repositories and the bulk plan writer.

    db          engines (SQLite WAL / PostgreSQL psycopg 3) and `migrate`
    tables      SQLAlchemy Core metadata, mirrored by `migrations/versions`
    secrets     `SecretBox`: Fernet encryption of stored source credentials
    districts   districts, their integration answers and credentials
    roster      what the portal holds: planning index, eligibility, pages of people
    apply       `apply_plan`: a SyncPlan written set-based, with audit rows
    runs        sync runs, validation issues, audit log

Repository functions take a `Connection` and never commit: the caller owns the transaction.
"""
