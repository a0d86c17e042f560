"""SMS: reply parsing, texts, webhook signatures and the provider's Messages API."""
