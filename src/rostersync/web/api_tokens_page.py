"""Personal API tokens: create (shown once), list with last use, revoke."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from fastapi import APIRouter

from rostersync.services import Services
from rostersync.web.pages import page_route
from rostersync.web.presentation import admin_templates


def create_api_tokens_router(service: Services) -> APIRouter:
    """The router over one service, to include in the portal's app."""
    return APIRouter(route_class=page_route(admin_templates()))


__all__ = ["create_api_tokens_router"]
