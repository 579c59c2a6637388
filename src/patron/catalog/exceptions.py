from patron.core.errors import Conflict, NotFound


class StoreNotFound(NotFound):
    code = "store_not_found"


class StoreCodeTaken(Conflict):
    code = "store_code_taken"


class ProductNotFound(NotFound):
    code = "product_not_found"
