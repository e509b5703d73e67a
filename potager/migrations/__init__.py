"""Alembic migrations of Potager's database, shipped as Python files inside the package.

Run them with `potager.db.upgrade_database(url)`; new revisions go in `versions/`, written
by hand after the first one (no template file is shipped, so that only .py files need
packaging), and `tests/trials/test_store.py` checks that they match the models.
"""
