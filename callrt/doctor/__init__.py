"""`callrt doctor`'s checks: each proves one part of the configuration calls will use, with its latency."""
