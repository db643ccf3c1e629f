"""Signing in with ClassLink: the OpenID Connect relying party (`oidc`), the sign-in flow and what a
signed-in student or educator sees (`portal`), and where a sign-in may send the browser next
(`paths`); with Clever, for districts read from Clever: its relying party (`clever`) and flow
(`clever_portal`). No HTTP routes here; `rostersync.web` routes and renders.
"""
