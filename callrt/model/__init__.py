"""The OpenAI services a call uses: the Realtime connector and the LLM booking extractor."""
