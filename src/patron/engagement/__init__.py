"""Engagement: messages to customers over e-mail, SMS and WeChat, through an outbox that
never loses or doubles one (campaigns, journeys and templates build on it)."""
