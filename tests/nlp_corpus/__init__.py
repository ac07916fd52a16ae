"""The hand-written NLP corpus (utterances and conversations with their expected actions) and its loader."""
