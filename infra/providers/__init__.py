"""Model-provider adapters behind core.llm.ModelClient."""
