"""The provider's billing pages: its invoices (list, detail, PDF, pay now) and its card.

Invoices are read through billing.selectors, scoped to the active provider: another provider's
id, a draft and a non-id are all a 404, on every method. The card form runs Stripe.js in the
browser (billing/static/billing/card-setup.js): the card number goes from the browser to Stripe
only; this server creates the SetupIntent and then saves the payment method Stripe.js made.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.cache import add_never_cache_headers

from accounts.permissions import Permission
from accounts.portal import (
    PortalView,
    claim_submission,
    new_submission_token,
    release_submission,
)
from agreements.views.scoped import ScopedObjectView
from billing.constants import InvoiceStatus
from billing.forms import CardSavedForm, PayNowForm
from billing.models import BillingAccount, Invoice
from billing.pdf import how_to_pay, invoice_pdf, invoice_pdf_filename
from billing.selectors import billing_today, provider_invoice, provider_invoices
from billing.services.collection import (
    ChargeResult,
    charge_now,
    payment_method_attached,
    setup_intent_create,
)
from billing.stripe_gateway import PaymentGatewayError
from billing.templatetags.billing import format_money
from core.errors import DomainError

logger = logging.getLogger(__name__)

DASHBOARD = ("Dashboard", "/dashboard/")
INVOICES = ("Invoices", "/billing/invoices/")
PAYMENT_METHODS = ("Payment methods", "/billing/payment-methods/")


def billing_account(provider) -> BillingAccount | None:
    """The provider's Stripe customer and card on file, if it has one yet."""
    return BillingAccount.objects.filter(provider=provider).first()


def has_card(account: BillingAccount | None) -> bool:
    return account is not None and bool(account.default_payment_method_id)


class InvoiceListView(PortalView):
    permission = Permission.VIEW_BILLING

    def get(self, request):
        invoices = list(provider_invoices(provider=self.provider))
        today = billing_today()
        for invoice in invoices:
            invoice.overdue = is_overdue(invoice, today)
        return render(
            request,
            "billing/invoices.html",
            {
                "provider": self.provider,
                "invoices": invoices,
                "account": billing_account(self.provider),
                "overdue_count": sum(invoice.overdue for invoice in invoices),
                "net_days": settings.BILLING_NET_DAYS,
                "breadcrumbs": [DASHBOARD, ("Invoices", None)],
            },
        )


def is_overdue(invoice: Invoice, today) -> bool:
    return (
        invoice.status == InvoiceStatus.OPEN
        and invoice.due_on is not None
        and invoice.due_on < today
        and invoice.amount_due_cents > 0
    )


class ProvidersInvoiceView(ScopedObjectView):
    """One issued invoice of the active provider: any other id is a 404 on every method."""

    permission = Permission.VIEW_BILLING

    def get_object(self) -> Invoice:
        if not hasattr(self, "object"):
            invoice = provider_invoice(provider=self.provider, invoice_id=self.kwargs["pk"])
            if invoice is None:
                raise Http404("No such invoice.")
            self.object = invoice
        return self.object


def render_invoice(view: ProvidersInvoiceView, *, pay_form: PayNowForm | None = None):
    request, invoice = view.request, view.get_object()
    account = billing_account(view.provider)
    can_pay = request.portal.can(Permission.MANAGE_PAYMENT_METHODS)
    payable = invoice.status == InvoiceStatus.OPEN and invoice.amount_due_cents > 0
    if can_pay and payable and has_card(account) and pay_form is None:
        pay_form = PayNowForm(initial={"submission": new_submission_token()})
    return render(
        request,
        "billing/invoice_detail.html",
        {
            "provider": view.provider,
            "invoice": invoice,
            "lines": list(invoice.lines.all()),
            "credit_notes": list(invoice.credit_notes.all()),
            "payments": list(invoice.payments.all()),
            "overdue": is_overdue(invoice, billing_today()),
            "payable": payable,
            "account": account,
            "has_card": has_card(account),
            "can_pay": can_pay,
            "pay_form": pay_form if can_pay and payable and has_card(account) else None,
            "ways_to_pay": how_to_pay(invoice=invoice, account=account),
            "remit_to": settings.BILLING_REMIT_TO,
            "retry_days": retry_days_text(),
            "breadcrumbs": [DASHBOARD, INVOICES, (invoice.number, None)],
        },
    )


def retry_days_text() -> str:
    """BILLING_RETRY_DAYS in words: "3, 5 and 7 days after the first refusal"."""
    days = [str(day) for day in settings.BILLING_RETRY_DAYS]
    if not days:
        return "only when you pay now"
    listed = days[0] if len(days) == 1 else f"{', '.join(days[:-1])} and {days[-1]}"
    return f"{listed} day{'s' if days != ['1'] else ''} after the first refusal"


class InvoiceDetailView(ProvidersInvoiceView):
    def get(self, request, pk):
        return render_invoice(self)


class InvoicePdfView(ProvidersInvoiceView):
    def get(self, request, pk):
        invoice = self.get_object()
        response = HttpResponse(
            invoice_pdf(invoice=invoice, account=billing_account(self.provider)),
            content_type="application/pdf",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{invoice_pdf_filename(invoice=invoice)}"'
        )
        response["X-Content-Type-Options"] = "nosniff"
        # An invoice is the provider's business: no shared cache keeps it.
        response["Cache-Control"] = "private, no-store"
        return response


class PayNowView(ProvidersInvoiceView):
    permission = Permission.MANAGE_PAYMENT_METHODS

    def get(self, request, pk):
        return redirect("billing:invoice", pk=self.get_object().pk)

    def post(self, request, pk):
        invoice = self.get_object()
        form = PayNowForm(request.POST)
        if not form.is_valid():
            return render_invoice(self, pay_form=form)
        if not claim_submission(request, form.cleaned_data["submission"]):
            messages.info(request, "Your first click already started this payment.")
            return redirect("billing:invoice", pk=invoice.pk)
        try:
            outcome = charge_now(invoice=invoice, actor=request.user)
        except (DomainError, PaymentGatewayError) as exc:
            release_submission(request, form.cleaned_data["submission"])
            messages.error(request, f"The payment could not be made: {exc}")
            return redirect("billing:invoice", pk=invoice.pk)
        charged = outcome.payment.amount_cents if outcome.payment else invoice.amount_due_cents
        amount = format_money(charged, invoice.currency)
        if outcome.result == ChargeResult.SUCCEEDED:
            messages.success(request, f"Thank you: {amount} was charged to your card.")
        elif outcome.result == ChargeResult.DECLINED:
            messages.error(
                request,
                f"Your card was not charged: {outcome.message} Add another card on the "
                "Payment methods page, or pay by wire or check.",
            )
        elif outcome.result == ChargeResult.PENDING:
            messages.warning(
                request,
                "The card payment could not be confirmed yet; we check again within the hour. "
                "Please do not pay twice.",
            )
        else:
            messages.info(request, f"No payment was made: {outcome.message}")
        return redirect("billing:invoice", pk=invoice.pk)


class PaymentMethodsView(PortalView):
    permission = Permission.VIEW_BILLING

    def get(self, request):
        account = billing_account(self.provider)
        return render(
            request,
            "billing/payment_methods.html",
            {
                "provider": self.provider,
                "account": account,
                "has_card": has_card(account),
                "can_manage": request.portal.can(Permission.MANAGE_PAYMENT_METHODS),
                "breadcrumbs": [DASHBOARD, ("Payment methods", None)],
            },
        )


class CardAddView(PortalView):
    """GET: a new SetupIntent and the card form Stripe.js fills. POST: the payment method
    Stripe.js created, made the provider's default card."""

    permission = Permission.MANAGE_PAYMENT_METHODS

    def get(self, request):
        return self.render_form(CardSavedForm(initial={"submission": new_submission_token()}))

    def post(self, request):
        form = CardSavedForm(request.POST)
        if not form.is_valid():
            return self.render_form(form, status=400)
        token = form.cleaned_data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "Your card was already saved by your first click.")
            return redirect("billing:payment_methods")
        try:
            account = payment_method_attached(
                provider=self.provider,
                payment_method_id=form.cleaned_data["payment_method_id"],
                actor=request.user,
            )
        except (DomainError, PaymentGatewayError) as exc:
            release_submission(request, token)
            logger.info("Card not saved for provider %s: %s", self.provider.pk, exc)
            form.add_error(None, f"The card could not be saved: {exc}")
            return self.render_form(form, status=400)
        messages.success(
            request,
            f"Your {account.card_brand.title() or 'card'} ending {account.card_last4} is saved: "
            "open invoices are charged to it.",
        )
        return redirect("billing:payment_methods")

    def render_form(self, form: CardSavedForm, status: int = 200):
        setup, unavailable = None, ""
        try:
            client_secret = setup_intent_create(provider=self.provider)
        except (DomainError, PaymentGatewayError) as exc:
            logger.warning("No SetupIntent for provider %s: %s", self.provider.pk, exc)
            unavailable = (
                "Cards cannot be added right now: our payment processor could not start the "
                "card form. Please try again in a few minutes; if it keeps failing, contact "
                "postal finance."
            )
        else:
            # Read by billing/static/billing/card-setup.js (json_script: no inline script).
            setup = {
                "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
                "clientSecret": client_secret,
            }
        response = render(
            self.request,
            "billing/card_add.html",
            {
                "provider": self.provider,
                "form": form,
                "setup": setup,
                "unavailable": unavailable,
                "stripe_js_url": settings.STRIPE_JS_URL,
                "account": billing_account(self.provider),
                "breadcrumbs": [DASHBOARD, PAYMENT_METHODS, ("Add a card", None)],
            },
            status=status if setup else 503,
        )
        # The page carries a SetupIntent's client secret: keep it out of every cache.
        add_never_cache_headers(response)
        return response


urlpatterns = [
    path("billing/invoices/", InvoiceListView.as_view(), name="invoices"),
    path("billing/invoices/<int:pk>/", InvoiceDetailView.as_view(), name="invoice"),
    path("billing/invoices/<int:pk>/pdf/", InvoicePdfView.as_view(), name="invoice_pdf"),
    path("billing/invoices/<int:pk>/pay/", PayNowView.as_view(), name="invoice_pay"),
    path("billing/payment-methods/", PaymentMethodsView.as_view(), name="payment_methods"),
    path("billing/payment-methods/add/", CardAddView.as_view(), name="card_add"),
]
