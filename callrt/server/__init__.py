"""The telephony server: the Starlette app, the listener that routes media streams, metrics, workers."""
