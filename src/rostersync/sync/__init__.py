"""The sync pipeline: fetch → normalize → validate → plan → apply → report."""
