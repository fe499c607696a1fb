"""HTTP/1.1 on httptools: connections, the Request/Response models, and the hosts of behaviour."""
