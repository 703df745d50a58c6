"""Protocols: what each protocol's client sees (routes, request parsing, answer and error shapes, request
ids, OpenAPI paths), over the core's request path."""
