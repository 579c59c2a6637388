from patron.core.errors import InvalidInput, NotFound


class ContentNotFound(NotFound):
    code = "message_content_not_found"


class MessageNotFound(NotFound):
    code = "outbox_message_not_found"


class ContentMismatch(InvalidInput):
    """Messages of one channel given the content of another."""

    code = "message_content_mismatch"
