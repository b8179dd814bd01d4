"""An Infor M3 tenant emulator speaking the m3api-rest protocol through an ION API-like gateway.

from sandbox.m3 import M3SandboxConfig, create_app
with ServerThread(create_app(M3SandboxConfig(), seed_demo=True)) as server: ...
"""

from sandbox.m3.app import create_app
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.ionapi import write_ionapi

__all__ = ["M3SandboxConfig", "create_app", "write_ionapi"]
