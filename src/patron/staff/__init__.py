"""Staff users, roles and permissions, sign-in sessions and API keys."""
