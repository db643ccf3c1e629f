"""The pure core: roster records, validation, matching, planning. No I/O lives here."""
