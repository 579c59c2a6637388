"""The till check screen: price a basket for a member as the till's quote does — the
member offers that priced each line, the tier discount, the best coupons, the gifts their
points pay for — or say why goods cannot be sold to them yet (early access)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.errors import PatronError
from patron.loyalty.schemas import QuoteIn, QuoteRead
from patron.loyalty.till import quote_basket
from patron.web.deps import Db
from patron.web.forms import FormError, error_field, field_errors, parse_decimal, parse_fen
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)


def _render(
    request: Request,
    actor: Actor,
    *,
    form: dict[str, Any],
    quote: QuoteRead | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {"actor": actor, "form": form, "quote": quote, "errors": errors or {}}
    return TEMPLATES.TemplateResponse(request, "loyalty/till.html", context, status_code=status)


@router.get("/loyalty/till", response_class=HTMLResponse)
def till_page(request: Request, actor: CurrentActor) -> Response:
    return _render(request, actor, form={})


def basket_lines(text: str) -> list[dict[str, Any]]:
    """ "SKU quantity price" per line: "SKU-1 2 99.00"."""
    lines = []
    for row in text.strip().splitlines():
        parts = row.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise FormError("lines", "basket_line", line=row.strip())
        sku, quantity, price = parts
        lines.append(
            {
                "sku": sku,
                "quantity": parse_decimal(quantity, "lines"),
                "unit_price_fen": parse_fen(price, "lines", required=True),
            }
        )
    return lines


@router.post("/loyalty/till", response_class=HTMLResponse)
def till_quote(
    request: Request,
    actor: CurrentActor,
    db: Db,
    phone: Annotated[str, Form(max_length=40)] = "",
    store_code: Annotated[str, Form(max_length=64)] = "",
    lines: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """The quote a till would get for this member and basket."""
    form = {"phone": phone, "store_code": store_code, "lines": lines}
    try:
        quote_in = QuoteIn.model_validate(
            {
                "member": {"phone": phone.strip() or None},
                "store_code": store_code.strip() or None,
                "lines": basket_lines(lines),
            }
        )
        quote = db.read(
            lambda s: quote_basket(session=s, quote_in=quote_in, store_ids=actor.store_ids)
        )
    except ValidationError as exc:
        errors = field_errors(exc)
        errors = {k.split(".")[0]: v for k, v in errors.items()}
        return _render(request, actor, form=form, errors=errors, status=422)
    except PatronError as exc:
        field = error_field(exc, "phone").split(".")[0]
        return _render(request, actor, form=form, errors={field: message_for(exc)}, status=422)
    return _render(request, actor, form=form, quote=quote)
