"""The ``billbook`` command: operator commands on the database, customer commands over HTTP."""
