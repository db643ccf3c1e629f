"""Clever as a roster source: the app's district-app tokens, the Data API v3.1, and its mapping
to the records every other source yields (`client`, `mapping`, `source`)."""
