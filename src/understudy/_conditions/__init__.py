"""Network conditions for any stream server: latency, bandwidth, limits, resets, refusal.

:class:`Conditions` is what a user writes. The :class:`Shaper` of a server applies it: the
``Server`` base wraps every protocol a subclass serves in a :class:`ShapedProtocol`, which sits
between the real transport and the server's own protocol, holds bytes each way in a queue and
hands them on at the times a :class:`~understudy._core.conditions.Schedule` plans. So every
stream server (HTTP, SMTP, TCP, Unix, syslog and log records over TCP, the proxy) gets
conditions without code of its own. Refusing closes the listening sockets and binds them again
on the same address when refusal ends.

Terms follow Toxiproxy: *upstream* is the client's bytes towards the server, *downstream* the
server's bytes towards the client.

The modules: ``_options`` (Conditions and Direction, checked), ``_shaper`` (the shell per server:
its listeners, refusing and binding again), ``_connection`` (one shaped connection: the
protocol and the transport the server's protocol writes to), ``_pipe`` (one direction's queue).
"""

from ._options import Conditions, Direction, check_conditions, check_seed
from ._shaper import Shaper

__all__ = ["Conditions", "Direction", "Shaper", "check_conditions", "check_seed"]
