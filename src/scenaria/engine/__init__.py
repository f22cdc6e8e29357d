"""The engine: capture (re-entry rules), stepping tasks through nodes, scheduling, delivery."""
