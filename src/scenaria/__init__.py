"""Scenaria: customer-journey automation scenarios over profile databases."""

__version__ = "0.1.0"
