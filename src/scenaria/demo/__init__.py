"""The demo: the welcome guide's scenario run on synthetic profiles and an accelerated clock."""
