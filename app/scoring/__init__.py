"""The GPU scoring service, by layer (app/README.md, "Layout"): transport (sockets, HTTP/1.1, aiohttp) >
protocols (Azure ML /score, Open Inference Protocol v2) > core (the request path) > model (entry script,
batcher, network), with observability beneath them all. `python3 -m scoring` from app/ starts it."""
