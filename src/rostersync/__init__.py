"""rostersync: roster and provision school districts from ClassLink into the Educator Portal."""

__version__ = "0.1.0"
