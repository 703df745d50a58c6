"""Core: the one transport- and protocol-neutral request path (gate, admit, read, decode, submit, await,
deadline), its errors and its settings."""
