"""Transport: frames bytes (sockets, HTTP/1.1, the aiohttp application) and calls the protocols' handlers;
the top layer (app/README.md, "Layout")."""
