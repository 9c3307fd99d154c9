"""Scan event codes (Pub 199 Appendix G-4, domestic; domain.md §6) and what each means for the
piece: the status, status category and summary shown while it is the piece's newest event.

USPS publishes no authoritative list of statuses or categories (domain.md §6.2), so these are
the wordings seen in USPS examples and integrators' docs. The importer stores them on the piece
(`tracking.imports`); the generator uses `event_type` as the scan's description.
"""

from dataclasses import dataclass
from typing import Final


class Category:
    """statusCategory values (free text in the USPS specs; these are the common ones)."""

    PRE_SHIPMENT: Final = "Pre-Shipment"
    ACCEPTED: Final = "Accepted"
    IN_TRANSIT: Final = "In Transit"
    OUT_FOR_DELIVERY: Final = "Out for Delivery"
    DELIVERED: Final = "Delivered"
    DELIVERY_ATTEMPT: Final = "Delivery Attempt"
    AVAILABLE_FOR_PICKUP: Final = "Available for Pickup"
    ALERT: Final = "Alert"
    RETURN_TO_SENDER: Final = "Return to Sender"


@dataclass(frozen=True, slots=True)
class EventCode:
    code: str
    # The scan's usual description (a TrackingEvent's eventType), used when a row has none.
    event_type: str
    # The piece's status while this is its newest event; "" means the event's own eventType,
    # which is what USPS shows for deliveries ("Delivered, Front Door/Porch").
    status: str
    category: str
    # The start of statusSummary; the importer appends " at 2:05 pm on May 04, 2026 in CITY, ST
    # 12345." (or " on May 04, 2026" for a date-only scan).
    summary: str


_IN_TRANSIT_SUMMARY = "Your item is moving through the USPS network"

CODES: Final[dict[str, EventCode]] = {
    entry.code: entry
    for entry in (
        EventCode(
            "MA",
            "Shipping Label Created, USPS Awaiting Item",
            "Shipping Label Created, USPS Awaiting Item",
            Category.PRE_SHIPMENT,
            "A shipping label has been prepared for your item",
        ),
        EventCode(
            "TM",
            "Shipment Received, Package Acceptance Pending",
            "Shipment Received, Package Acceptance Pending",
            Category.ACCEPTED,
            "The shipment record for your item was received",
        ),
        EventCode(
            "PA",
            "Shipment Received, Package Acceptance Pending",
            "Shipment Received, Package Acceptance Pending",
            Category.ACCEPTED,
            "The shipment record for your item was received",
        ),
        EventCode(
            "03",
            "USPS picked up item",
            "USPS in possession of item",
            Category.ACCEPTED,
            "USPS is now in possession of your item",
        ),
        EventCode(
            "43",
            "Picked Up",
            "USPS in possession of item",
            Category.ACCEPTED,
            "USPS is now in possession of your item",
        ),
        EventCode(
            "10",
            "Processed through USPS Facility",
            "Arrived at USPS Regional Facility",
            Category.IN_TRANSIT,
            "Your item was processed through a USPS facility",
        ),
        EventCode(
            "PC",
            "Sorting Complete",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            _IN_TRANSIT_SUMMARY,
        ),
        EventCode(
            "19",
            "Arrived at USPS Regional Facility",
            "Arrived at USPS Regional Facility",
            Category.IN_TRANSIT,
            "Your item arrived at a USPS regional facility",
        ),
        EventCode(
            "EF",
            "Departed USPS Regional Facility",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            "Your item departed a USPS regional facility",
        ),
        EventCode(
            "07",
            "Arrived at Post Office",
            "Arrived at Post Office",
            Category.IN_TRANSIT,
            "Your item arrived at the Post Office",
        ),
        EventCode(
            "SF",
            "Departed Post Office",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            "Your item departed the Post Office",
        ),
        EventCode(
            "41",
            "Received at Opening Unit",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            _IN_TRANSIT_SUMMARY,
        ),
        EventCode(
            "42",
            "USPS Handoff to Shipping Partner",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            "Your item was handed to a USPS shipping partner",
        ),
        EventCode(
            "80",
            "Picked Up by Shipping Partner",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            _IN_TRANSIT_SUMMARY,
        ),
        EventCode(
            "81",
            "Arrived at Shipping Partner Facility",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            _IN_TRANSIT_SUMMARY,
        ),
        EventCode(
            "82",
            "Departed Shipping Partner Facility",
            "In Transit to Next Facility",
            Category.IN_TRANSIT,
            _IN_TRANSIT_SUMMARY,
        ),
        EventCode(
            "06",
            "Forwarded",
            "Forwarded",
            Category.IN_TRANSIT,
            "Your item was forwarded to a new address",
        ),
        EventCode(
            "OF",
            "Out for Delivery",
            "Out for Delivery",
            Category.OUT_FOR_DELIVERY,
            "Your item is out for delivery",
        ),
        EventCode(
            "01",
            "Delivered, Front Door/Porch",
            "",
            Category.DELIVERED,
            "Your item was delivered",
        ),
        EventCode(
            "17",
            "Picked Up by Agent",
            "Delivered, Picked Up by Agent",
            Category.DELIVERED,
            "Your item was picked up by an agent",
        ),
        EventCode(
            "02",
            "Notice Left (No Authorized Recipient Available)",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We attempted to deliver your item and left a notice",
        ),
        EventCode(
            "52",
            "Notice Left",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We attempted to deliver your item and left a notice",
        ),
        EventCode(
            "53",
            "Notice Left (Receptacle Blocked)",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We could not deliver your item because the receptacle was blocked",
        ),
        EventCode(
            "54",
            "Notice Left (Receptacle Full/Item Oversized)",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We could not deliver your item because the receptacle was full or it was oversized",
        ),
        EventCode(
            "55",
            "Notice Left (No Secure Location Available)",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We could not deliver your item because no secure location was available",
        ),
        EventCode(
            "56",
            "Notice Left (No Authorized Recipient Available)",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We could not deliver your item because no authorized recipient was available",
        ),
        EventCode(
            "30",
            "Delivery Attempted - No Access to Delivery Location",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We could not access the delivery location",
        ),
        EventCode(
            "51",
            "Business Closed",
            "Delivery Attempted",
            Category.DELIVERY_ATTEMPT,
            "We could not deliver your item because the business was closed",
        ),
        EventCode(
            "14",
            "Arrived at Pickup Point",
            "Available for Pickup",
            Category.AVAILABLE_FOR_PICKUP,
            "Your item arrived at the pickup point",
        ),
        EventCode(
            "16",
            "Available for Pickup",
            "Available for Pickup",
            Category.AVAILABLE_FOR_PICKUP,
            "Your item is available for pickup",
        ),
        EventCode(
            "71",
            "Rescheduled to Next Delivery Day",
            "Rescheduled to Next Delivery Day",
            Category.ALERT,
            "Your item was rescheduled for delivery on the next delivery day",
        ),
        EventCode("04", "Refused", "Refused", Category.ALERT, "Your item was refused"),
        EventCode(
            "05",
            "Undeliverable as Addressed",
            "Undeliverable as Addressed",
            Category.ALERT,
            "Your item could not be delivered as addressed",
        ),
        EventCode("08", "Missent", "Missent", Category.ALERT, "Your item was missent"),
        EventCode("15", "Mis-shipped", "Mis-shipped", Category.ALERT, "Your item was mis-shipped"),
        EventCode("11", "Dead Letter", "Dead Letter", Category.ALERT, "Your item is a dead letter"),
        EventCode(
            "44", "Customer Recall", "Customer Recall", Category.ALERT, "The sender recalled it"
        ),
        EventCode(
            "DX",
            "Delivery Status Not Updated",
            "Delivery Status Not Updated",
            Category.ALERT,
            "The delivery status of your item was not updated",
        ),
        *(
            EventCode(
                code,
                f"Return to Sender - {why}" if why else "Return to Sender",
                "Return to Sender",
                Category.RETURN_TO_SENDER,
                "Your item is being returned to the sender",
            )
            for code, why in (
                ("09", ""),
                ("21", "No Such Number"),
                ("22", "Insufficient Address"),
                ("23", "Moved, Left No Address"),
                ("24", "Forward Expired"),
                ("25", "Addressee Unknown"),
                ("26", "Vacant"),
                ("27", "Unclaimed"),
                ("28", "Deceased"),
                ("29", "Other"),
                ("31", "Not Picked Up"),
            )
        ),
    )
}

# What an event code not listed above means for the piece: its own eventType is the status.
UNKNOWN_CATEGORY: Final = Category.IN_TRANSIT
UNKNOWN_SUMMARY_PREFIX: Final = "Latest update: "


def describe(code: str) -> EventCode | None:
    return CODES.get(code)
