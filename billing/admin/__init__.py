"""Finance's admin: the invoice queue (approve, void, write off, credit, record a wire or check,
resend, export), the aging report, fee schedules, and the reconciliation queue; payments,
credit notes, Stripe customers and webhook events are read-only.

Every write is a service call (billing.services.*), which audits it; reads are selectors
(billing.selectors). Decisions are admin actions with a reason page (accounts.admin_decisions),
each also linked from the invoice's own page. Nobody adds or deletes invoices by hand: the
monthly run creates them, and a wrong one is voided. Importing the modules registers their
ModelAdmins.
"""

from billing.admin import invoices, records

__all__ = ["invoices", "records"]
