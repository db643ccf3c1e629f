"""Adapters that speak OneRoster: the REST client, its signers, and the wire-format mapping."""
