"""The Educator Portal on the web: signing in with ClassLink and the pages people see.

`rostersync.web.app.create_app(service)` builds the FastAPI app; this package routes and renders.
The logic behind the pages lives below it: ClassLink sign-in in `rostersync.signin`, staff
accounts, sessions and two-step codes in `rostersync.staff`.
"""
