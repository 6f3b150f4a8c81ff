"""The GLM twin: one engine, two adapters (a respx router in-process, an ASGI app over HTTP)."""

from .asgi import twin_app
from .config import (
    EMPTY_BALANCE_KEY,
    EXPIRED_KEY,
    TWIN_KEY,
    KeyState,
    Limits,
    Timing,
    TwinConfig,
    TwinProfile,
)
from .engine import GLMTwin, Handler, Reply, WireRequest
from .faults import Fault, FaultSpec, parse_fault
from .respx_router import twin_router
from .scenarios import Style

__all__ = [
    "EMPTY_BALANCE_KEY",
    "EXPIRED_KEY",
    "TWIN_KEY",
    "Fault",
    "FaultSpec",
    "GLMTwin",
    "Handler",
    "KeyState",
    "Limits",
    "Reply",
    "Style",
    "Timing",
    "TwinConfig",
    "TwinProfile",
    "WireRequest",
    "parse_fault",
    "twin_app",
    "twin_router",
]
