"""The streaming worker: the engine on live Kafka traffic (Faust), with timers, HTTP, metrics."""
