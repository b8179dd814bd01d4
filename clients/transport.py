"""What both HTTP clients need to know about a failed request: did it leave this process?"""

from __future__ import annotations

import httpx

# Failures before a request is sent: the server cannot have seen it, so even a write may be resent.
# Anything later (a timeout while waiting, a reset, a 5xx) may follow a committed write.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
