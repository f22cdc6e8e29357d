"""Channel adapters: one per file, each a ``Channel`` (see :mod:`scenaria.engine.delivery`)."""
