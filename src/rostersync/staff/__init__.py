"""Local accounts of vendor staff and district data managers: sign-in and sessions (`accounts`),
invitations, two-step codes (`totp`), password and lockout rules (`policy`), failed-try budgets
(`limits`) and the data-manager rights a ClassLink sign-in may bring (`classlink`). No HTTP routes
here; `rostersync.web` routes and renders.
"""
