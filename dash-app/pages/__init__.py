"""One module per page: PATH, NAME, ``layout(source)``, ``register(app, source)`` and plain functions the
callbacks call (unit-tested directly)."""
