"""Moving text messages: the transport shape, the websocket on a trio socket, frame splitting, socket I/O."""
