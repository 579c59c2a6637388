"""What people read about an error, in their language, from its code: the one table.

Services raise errors with a code and facts (core/errors.py: ``PatronError.message_code``
and ``facts``; schema rules raise ``rule_error(code, field, ...)``, whose code is the
pydantic error's ``type``). Console pages and the command line turn them into words here,
never by matching the English ``message``, which is the API's and the logs'. To add a
message: raise with a new code, add the code here with its English text (``%(fact)s`` for a
fact), and its Chinese to web/translations/zh_CN/LC_MESSAGES/messages.po (a test checks
both). See docs/contributing.md, "Adding a message".
"""

from __future__ import annotations

import os
from typing import Any, Final

from patron.core.errors import PatronError
from patron.web.i18n import N_, choose_language, gettext, use_language

MESSAGES: Final[dict[str, str]] = {
    # --- pydantic's own kinds of bad input (a form's box)
    "missing": N_("required"),
    "string_too_long": N_("too long"),
    "greater_than": N_("too small"),
    "greater_than_equal": N_("too small"),
    "less_than": N_("too large"),
    "less_than_equal": N_("too large"),
    "int_parsing": N_("not a whole number"),
    "int_from_float": N_("not a whole number"),
    "decimal_parsing": N_("not a number"),
    "enum": N_("choose one of the options"),
    "literal_error": N_("choose one of the options"),
    "datetime_parsing": N_("not a date and time"),
    "datetime_from_date_parsing": N_("not a date and time"),
    "too_long": N_("too many"),
    # --- what the console's forms find while reading a box (web/forms.py)
    "required": N_("required"),
    "too_short": N_("at least %(n)s characters"),
    "too_few": N_("at least %(n)s items"),
    "untrimmed": N_("no spaces at the start or the end"),
    "bad_characters": N_("holds characters that are not allowed here"),
    "not_yuan": N_("not an amount in yuan, like 20 or 12.50"),
    "not_whole_number": N_("not a whole number"),
    "not_number": N_("not a number"),
    "decimals_2": N_("at most 2 decimals"),
    "decimals_4": N_("at most 4 decimals"),
    "not_customer_id_item": N_("item %(n)s is not a customer id (a whole number)"),
    "no_customer_ids": N_("paste at least one customer id"),
    "too_many_customer_ids": N_("at most 100,000 customers at a time"),
    "multiplier_line": N_('line %(n)s: write it as "code = 1.5"'),
    "no_customer_id": N_("give the customer's id"),
    "no_template_code": N_("choose a coupon template"),
    # --- refusals and missing records
    "customer_not_found": N_("No such customer, or not a customer of your stores."),
    "not_found": N_("There is nothing here."),
    "forbidden": N_("Your role may not open this page or do this."),
    "out_of_scope": N_("Your role may not open this page or do this."),
    "product_not_found": N_("No product with SKU %(sku)s."),
    "other_stores_rules": N_("Your role reads the basket rules of its own stores only."),
    "store_required": N_("name one of your stores"),
    "percent_range": N_("a percentage between 0 and 100"),
    "not_negative": N_("must not be negative"),
    # --- orders over the API
    "too_many_orders_per_call": N_("at most %(limit)s orders per call, got %(count)s"),
    # --- staff and stores
    "password_too_short": N_("must be at least %(n)s characters"),
    "password_too_plain": N_("must mix letters with digits or symbols"),
    "password_not_current": N_("is not the current password"),
    "username_taken": N_("%(username)s is taken"),
    "store_code_unknown": N_("no store with code %(code)s"),
    "store_code_taken": N_("this code is taken"),
    "time_zone_unknown": N_("unknown time zone %(zone)s"),
    "cannot_deactivate_self": N_("you cannot deactivate yourself"),
    # --- the audit log
    "range_reversed": N_("is before the first day"),
    # --- loyalty: the services
    "insufficient_points": N_("only %(available)s points can be taken away"),
    "coupon_limit_reached": N_(
        "this member already holds as many as the template allows (%(limit)s)"
    ),
    "coupon_template_not_found": N_("no such coupon template"),
    "coupon_template_exists": N_("a coupon template %(code)s exists already"),
    "template_validity_ended": N_("this template's validity has ended"),
    "code_taken": N_("this code is taken"),
    "programme_changed_meanwhile": N_(
        "Someone saved other terms (version %(version)s) while you were editing: nothing "
        "was saved. Reload the page and make your change again."
    ),
    "tier_held": N_("tier %(tier)s is held by members: keep it (its name and terms may change)"),
    "points_not_positive": N_("must be greater than 0"),
    "prize_template_unknown": N_("no coupon template %(code)s"),
    # --- loyalty: the schemas' rules
    "points_zero": N_("must not be 0"),
    "amount_off_missing": N_("give the amount off"),
    "percent_off_missing": N_("give the percentage off"),
    "gift_sku_missing": N_("give the gift's SKU"),
    "validity_missing": N_("give either valid_to (fixed) or valid_days (relative)"),
    "valid_to_before_from": N_("must be after valid_from"),
    "ends_before_starts": N_("must be after starts_at"),
    "bonus_multiplier_too_small": N_("a bonus-points offer multiplies by more than ×1"),
    "gift_threshold_missing": N_("a gift needs a spend threshold above 0"),
    "gift_promotion_sku_missing": N_("a gift promotion names the gift's SKU"),
    "prize_points_missing": N_("a points prize needs points > 0"),
    "prize_template_missing": N_("a coupon prize needs a coupon template"),
    "prize_gift_sku_missing": N_("a gift prize needs the gift's SKU"),
    "prize_codes_repeated": N_("prize codes must be unique"),
    "prize_chances_over": N_("the chances add up to more than 1,000,000 ppm (100%)"),
    "tier_code_repeated": N_("two tiers have this code"),
    "tier_rank_repeated": N_("two tiers have this rank"),
    "base_tier_needs_nothing": N_(
        "the lowest tier is every member's starting tier: it needs no spend and no points"
    ),
    "tier_not_above": N_("a higher tier needs more than the one below"),
    # --- privacy: data-subject requests, the processing register
    "privacy_request_not_found": N_("no such privacy request"),
    "privacy_request_closed": N_("this request is closed already"),
    "privacy_erasure_held": N_(
        "cannot erase yet: legal holds: %(legal)s; open after-sales tickets: %(tickets)s"
    ),
    "privacy_not_erasure": N_("this request does not ask for erasure"),
    "legal_hold_not_found": N_("no such legal hold in force"),
    "identifier_taken": N_(
        "this %(kind)s belongs to customer %(other_id)s: if they are one person, merge the two profiles"
    ),
    "identifier_unchanged": N_("the customer has this value already"),
    "identifier_unreadable": N_("this value cannot be read as that kind of identifier"),
    "identifier_not_held": N_("the customer has no such identifier"),
    "identifier_which": N_("the customer has several of these: say which one is corrected"),
    "privacy_not_correction": N_("this request does not ask for correction"),
    "processing_activity_not_found": N_("no such line in the processing register"),
    "outcome_required": N_("say what was done, or why it was refused"),
    # --- loyalty: gifts for points, member offers, early access
    "reward_not_found": N_("no such gift"),
    "reward_unavailable": N_("this gift is not on offer now"),
    "reward_not_for_tier": N_("this gift is for %(tiers)s members only"),
    "reward_out_of_stock": N_("this gift is out of stock"),
    "reward_limit_reached": N_("the member has taken this gift as often as allowed (%(limit)s)"),
    "reward_fulfilment": N_("this gift cannot be had that way"),
    "redemption_not_found": N_("no such redemption"),
    "redemption_not_cancellable": N_("this redemption was cancelled already"),
    "redemption_coupon_used": N_(
        "the gift's coupon has been used: the redemption cannot be cancelled"
    ),
    "store_unknown": N_("no store %(code)s"),
    "reward_template_missing": N_("a coupon gift names a coupon template"),
    "reward_sku_missing": N_("a goods gift names its SKU"),
    "reward_stock_twice": N_("stock is chain-wide or per store, not both"),
    "offer_not_found": N_("no such offer"),
    "offer_quota_used_up": N_("the offer's quota is used up"),
    "offer_price_or_percent": N_("give a member price or a percentage off"),
    "offer_goods_missing": N_("an offer names SKUs or categories"),
    "early_access_only": N_("%(target)s is for priority members until %(from_at)s"),
    "early_access_exists": N_("early access for this is set already"),
    "basket_line": N_("%(line)s: write SKU, quantity and unit price"),
    "birthday_template_unknown": N_("no coupon template %(code)s"),
    # --- consent and campaigns (patron.consent, patron.campaigns)
    "consent_in_future": N_("must not be in the future"),
    "invalid_phone": N_("not a phone number"),
    "template_syntax": N_("cannot be read as a template"),
    "template_unknown_variable": N_("unknown variable %(variable)s; use %(known)s"),
    "sms_needs_opt_out": N_("a marketing SMS says how to stop them (回复TD退订)"),
    "template_name_taken": N_("a template with this name exists"),
    "template_not_found": N_("no such template"),
    "template_wrong_channel": N_("this template is for another channel"),
    "email_needs_subject": N_("an e-mail needs a subject"),
    "campaign_name_taken": N_("a campaign with this name exists"),
    "campaign_not_found": N_("no such campaign"),
    "campaign_wrong_state": N_("not possible while the campaign is %(status)s"),
    "campaign_not_due": N_("the campaign is not due yet"),
    "offer_needs_coupon": N_("a coupon offer names a coupon template"),
    "offer_needs_points": N_("a points offer needs points"),
    # --- journeys (patron.journeys)
    "journey_not_found": N_("no such journey"),
    "journey_name_taken": N_("a journey with this name exists"),
    "journey_wait_empty": N_("a wait needs a duration or a time of day"),
    "journey_tag_empty": N_("name a tag to add or remove"),
    "journey_step_key_twice": N_("two steps have the same key"),
    "journey_goto_unknown": N_("must go to a later step of this journey (%(target)s)"),
    "journey_webhook_unknown": N_("no webhook subscription %(subscription_id)s"),
    "task_not_found": N_("no such task"),
    "recurrence_invalid": N_(
        "not a schedule: five fields, minute hour day month weekday (0 10 * * 1: Mondays 10:00)"
    ),
    "zone_unknown": N_("unknown time zone"),
    # --- audiences (audiences/)
    "audience_not_found": N_("no such audience"),
    "audience_name_taken": N_("an audience named %(name)s exists already"),
    "audience_definition_invalid": N_("this audience's rules cannot be used"),
    "audience_field_unknown": N_(
        "no custom field %(code)s that audiences may use (personal fields are left out)"
    ),
    "audience_op_not_for_field": N_("this comparison does not apply to a %(kind)s field"),
    "audience_value_not_typed": N_("%(value)s is not a %(kind)s"),
    "audience_reveal_forbidden": N_("your role may not see personal data unmasked"),
    "audience_reveal_reason": N_("say why the data is exported unmasked"),
    "audience_value_to_required": N_("give the upper end of the range"),
    "audience_range_reversed": N_("the end of the range is before its start"),
    "audience_date_required": N_("give a date"),
    "audience_days_required": N_("give a number of days"),
    "audience_values_required": N_("choose at least one value"),
    "audience_value_unknown": N_("%(value)s is not one of the options"),
    "audience_store_id": N_("not a store"),
    "audience_value_required": N_("give a value"),
    "audience_period_twice": N_("give a number of days or dates, not both"),
    "audience_too_deep": N_("groups nest too deep"),
    "audience_empty_group": N_("a group needs at least one condition"),
    "audience_too_many": N_("too many conditions"),
    "custom_field_taken": N_("a custom field %(code)s exists already"),
    "custom_field_not_found": N_("no such custom field"),
    "custom_field_not_date": N_("not a date (YYYY-MM-DD)"),
    "custom_field_not_a_choice": N_("%(value)s is not one of the choices"),
    "field_choices_required": N_("a choice field needs choices"),
    "field_choices_unused": N_("only a choice field has choices"),
    "field_choices_repeated": N_("each choice may appear once"),
    "field_reveal_forbidden": N_("your role may not see personal data unmasked"),
    "unknown_filter": N_("not a filter this list offers"),
    # --- service tickets, SLA and surveys (support/)
    "ticket_not_found": N_("no such ticket"),
    "ticket_transition_refused": N_("a ticket %(current)s cannot become %(wanted)s"),
    "rma_number_taken": N_("RMA number %(rma_number)s belongs to another repair"),
    "ticket_refused": N_("this ticket does not allow that"),
    "ticket_assign_someone": N_("assign the ticket to someone instead"),
    "ticket_closed": N_("the ticket is closed"),
    "ticket_category_unknown": N_("no such category"),
    "ticket_category_exists": N_("a category with this code exists already"),
    "ticket_store_required": N_("name the store"),
    "ticket_store_unknown": N_("no such store among yours"),
    "ticket_line_unknown": N_("the order has no line %(line_no)s"),
    "ticket_no_customer": N_("no customer found"),
    "ticket_order_not_theirs": N_("the order is another customer's"),
    "ticket_assignee_refused": N_("this person cannot work this store's tickets"),
    "sla_reply_after_resolution": N_("the first reply cannot be due after the resolution"),
    "attachment_refused": N_("only JPEG, PNG or WebP photos up to %(limit_mb)s MB"),
    "ticket_needs_order": N_("the ticket names no order"),
    "ticket_not_for_that": N_("not possible on a ticket of this type or in this state"),
    "survey_not_found": N_("no such survey"),
    "not_a_date": N_("is not a date like 2026-10-31"),
    "survey_exists": N_("a survey with this code exists already"),
    "survey_choice_options": N_("a choice question needs options, no other has any"),
    "survey_keys_repeated": N_("two questions have the same key"),
    "survey_code_reserved": N_("this code is reserved: choose another"),
    "survey_scale_repeated": N_("at most one CSAT, one NPS and one CES question"),
    "survey_scale": N_("choose a score from %(low)s to %(high)s"),
    "survey_link_invalid": N_("this link is not valid: it was used, has expired or is wrong"),
    "unknown_store_code": N_("no store with code %(code)s"),
    "webhook_subscription_not_found": N_("no such webhook subscription"),
    "webhook_delivery_not_found": N_("no such webhook delivery"),
    "webhook_url_scheme": N_("must be an https:// address"),
    "webhook_url_private": N_("names a private or local address, which webhooks may not call"),
    "webhook_url_unreadable": N_("is not a web address"),
}


def message_text(message_code: str, /, **facts: Any) -> str | None:
    """The message ``message_code`` names, in the current language, with ``facts`` filled
    in; None for a code the table does not hold."""
    template = MESSAGES.get(message_code)
    if template is None:
        return None
    text = gettext(template)
    return text % _Facts(facts) if "%(" in template else text


class _Facts(dict[str, Any]):
    """Facts to fill a message with; one the error did not carry reads as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def message_for(exc: PatronError) -> str:
    """What a page or the command line says about ``exc``, from its code and facts.

    An error whose code the table does not hold (raised by code that predates the table)
    is shown in the words it was raised with, through the catalogue; docs/contributing.md
    says how to give it a code.
    """
    text = message_text(exc.message_code, **exc.facts)
    if text is not None:
        return text
    field = exc.facts.get("field")
    reason = exc.message.split(": ", 1)[-1] if field else exc.message
    return gettext(reason)


def message_line(exc: PatronError) -> str:
    """``exc`` as one line for the command line: "field: message", or the message alone."""
    field = exc.facts.get("field")
    return f"{field}: {message_for(exc)}" if field else message_for(exc)


def use_system_language() -> None:
    """The command line speaks the system's language (``LANG``, as zh_CN.UTF-8 or
    en_US.UTF-8); Chinese when it names neither."""
    use_language(choose_language(os.environ.get("LANG")))
