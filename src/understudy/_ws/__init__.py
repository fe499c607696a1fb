"""WebSocket (RFC 6455) on the HTTP port: handshake, sessions, ASGI, journal."""
