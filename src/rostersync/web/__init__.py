"""The Educator Portal on the web: signing in with ClassLink and the pages people see.

`rostersync.web.app.create_app(service)` builds the FastAPI app; `rostersync.web.oidc` is the
ClassLink OpenID Connect relying party the service uses. This package's `__init__` imports nothing,
so the service can use the relying party without loading FastAPI.
"""
