"""What every service needs and none re-writes: settings, logging, metrics, MongoDB, Kafka, HTTP."""
