"""The GPU scoring service: an HTTP layer (server, auth, errors, admission, metrics, KServe v2),
a dynamic batcher, and the user's entry script loaded from ENTRY_SCRIPT with the Azure ML
init()/run(raw_data) contract. `python3 -m scoring` from app/ starts it."""
