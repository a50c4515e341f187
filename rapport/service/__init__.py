"""Service and channels: one inbox for e-mail, chat, phone and the portal; tickets, SLAs,
the knowledge base and the bot."""
