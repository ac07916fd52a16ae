"""Twilio at the edge: Media Streams on the wire, the voice webhook, its signature and the stream token."""
