from patron.core.errors import Conflict, InvalidInput, NotFound


class OrderNotFound(NotFound):
    code = "order_not_found"


class IdempotencyConflict(Conflict):
    """The key was used before, with a different body."""

    code = "idempotency_conflict"


class UnknownOrder(InvalidInput):
    code = "unknown_order"


class UnknownStore(InvalidInput):
    code = "unknown_store"


class RefundTooLarge(InvalidInput):
    code = "refund_too_large"
