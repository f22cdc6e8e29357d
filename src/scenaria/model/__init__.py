"""Pure data and validation: no I/O, imports nothing above it."""
