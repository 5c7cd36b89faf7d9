"""Jupyter backends: the wire protocol, the shared kernel base, a local kernel, a Kernel Gateway."""

from ._gateway import GatewayBackend, LocalGateway
from ._local import JupyterBackend

__all__ = ["GatewayBackend", "JupyterBackend", "LocalGateway"]
