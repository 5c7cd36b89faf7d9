"""Jupyter backends: wire protocol, kernel base, local kernel, gateway client, gateway launcher."""

from ._gateway import GatewayBackend
from ._launcher import LocalGateway
from ._local import JupyterBackend

__all__ = ["GatewayBackend", "JupyterBackend", "LocalGateway"]
