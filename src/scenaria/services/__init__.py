"""Use cases: what the CLI, the API and the web UI call. No SQL, no HTTP here."""
