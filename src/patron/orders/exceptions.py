from patron.core.errors import Conflict, Forbidden, InvalidInput, NotFound


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


class OrderOutOfScope(Forbidden):
    """A store-bound user asked for an order of another store."""

    code = "out_of_scope"


class StoreOutOfScope(InvalidInput):
    """A store-bound user or key posted an order for a store it does not work in."""

    code = "store_out_of_scope"


class KeyOfAnotherStore(InvalidInput):
    """A store-bound caller posted an order under a key another store's order holds: it is
    told so, and nothing of that order."""

    code = "out_of_scope"
