"""Titles of the support codes as the console shows them (English msgids, translated)."""

from __future__ import annotations

from patron.web.i18n import N_

STATUS_TITLES: dict[str, str] = {
    "new": N_("New"),
    "assigned": N_("Assigned"),
    "in_progress": N_("In progress"),
    "waiting_customer": N_("Waiting for the customer"),
    "waiting_supplier": N_("Waiting for the supplier"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}
TYPE_TITLES: dict[str, str] = {
    "complaint": N_("Complaint"),
    "return": N_("Return"),
    "exchange": N_("Exchange"),
    "repair": N_("Repair"),
    "enquiry": N_("Enquiry"),
    "suggestion": N_("Suggestion"),
}
PRIORITY_TITLES: dict[str, str] = {
    "low": N_("Low"),
    "normal": N_("Normal"),
    "high": N_("High"),
    "urgent": N_("Urgent"),
}
CHANNEL_TITLES: dict[str, str] = {
    "store": N_("In store"),
    "phone": N_("Phone"),
    "wechat": N_("WeChat"),
    "web_form": N_("Web form"),
    "email": N_("E-mail"),
    "survey": N_("Survey"),
}
ENTRY_TITLES: dict[str, str] = {
    "note": N_("Internal note"),
    "reply": N_("Reply to the customer"),
    "status": N_("Status"),
    "assign": N_("Assigned to"),
    "money": N_("Money"),
    "repair": N_("Repair"),
}
CLOCK_TITLES: dict[str, str] = {
    "green": N_("On time"),
    "amber": N_("Due soon"),
    "red": N_("Overdue"),
    "grey": N_("Clock stopped"),
}
