"""The ``hubfs`` command line."""
