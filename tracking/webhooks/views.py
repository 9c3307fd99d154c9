"""Portal pages of the webhooks: the provider's subscriptions, creating one (a generated
secret is shown once), one subscription with its delivery log, enabling / disabling /
deleting it, and replaying a delivery. Every object is fetched through a selector scoped to
the active provider: another provider's ids are a 404 on every URL and method."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from accounts.permissions import Permission
from accounts.portal import PortalView, claim_submission, new_submission_token, release_submission
from core.errors import DomainError
from tracking.constants import SubscriptionStatus
from tracking.models import Subscription, WebhookDelivery
from tracking.webhooks import selectors
from tracking.webhooks.forms import OneTimeForm, SubscriptionCreateForm, SubscriptionStatusForm
from tracking.webhooks.secrets import generate_secret
from tracking.webhooks.services import (
    FINAL_DELIVERY_STATUSES,
    replay_delivery,
    subscription_create,
    subscription_delete,
    subscription_update,
)

LIST_CRUMBS = [("Dashboard", "/dashboard/"), ("API", "/developers/apps/"), ("Webhooks", None)]


def _crumbs(title: str):
    return [*LIST_CRUMBS[:-1], ("Webhooks", reverse("tracking:webhooks")), (title, None)]


class WebhookListView(PortalView):
    permission = Permission.MANAGE_API_CREDENTIALS

    def get(self, request):
        subscriptions = list(selectors.subscriptions_with_counts(provider_id=self.provider.pk))
        return render(
            request,
            "tracking/webhooks/list.html",
            {
                "subscriptions": subscriptions,
                "count_days": selectors.COUNT_DAYS,
                "breadcrumbs": LIST_CRUMBS,
            },
        )


@method_decorator(sensitive_post_parameters("secret"), name="post")
@method_decorator(sensitive_variables("data", "generated"), name="post")
class WebhookCreateView(PortalView):
    permission = Permission.MANAGE_API_CREDENTIALS

    def render_form(self, form, status=200):
        return render(
            self.request,
            "tracking/webhooks/create.html",
            {"form": form, "breadcrumbs": _crumbs("New subscription")},
            status=status,
        )

    def get(self, request):
        return self.render_form(
            SubscriptionCreateForm(initial={"submission": new_submission_token()})
        )

    def post(self, request):
        form = SubscriptionCreateForm(request.POST)
        if not form.is_valid():
            return self.render_form(form)
        data = form.cleaned_data
        token = data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "That subscription was already created by your first click.")
            return redirect("tracking:webhooks")
        generated = "" if data["secret"] else generate_secret()
        try:
            subscription = subscription_create(
                provider=self.provider,
                app=None,
                actor=request.user,
                mid=data["mid"],
                tracking_number=data["tracking_number"],
                event_types=data["event_types"],
                listener_url=data["listener_url"],
                secret=data["secret"] or generated,
                admin_emails=data["admin_emails"],
            )
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            return self.render_form(form)
        if not generated:
            messages.success(request, "The subscription is created and enabled.")
            return redirect("tracking:webhook", public_id=subscription.public_id)
        response = render(
            request,
            "tracking/webhooks/secret.html",
            {
                "subscription": subscription,
                "secret": generated,
                "breadcrumbs": _crumbs("Your secret"),
            },
        )
        # The only time the secret is shown: nothing on the way may keep the page.
        add_never_cache_headers(response)
        return response


class SubscriptionView(PortalView):
    """One subscription of the active provider, looked up before any method is handled."""

    permission = Permission.MANAGE_API_CREDENTIALS

    def get_subscription(self) -> Subscription:
        if not hasattr(self, "subscription"):
            found = selectors.subscription_of(
                provider_id=self.provider.pk, public_id=self.kwargs["public_id"]
            )
            if found is None:
                raise Http404("No such subscription.")
            self.subscription = found
        return self.subscription

    def http_method_not_allowed(self, request, *args, **kwargs):
        self.get_subscription()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def options(self, request, *args, **kwargs):
        self.get_subscription()
        return super().options(request, *args, **kwargs)

    def back(self):
        return redirect("tracking:webhook", public_id=self.get_subscription().public_id)


class WebhookDetailView(SubscriptionView):
    def get(self, request, public_id):
        subscription = self.get_subscription()
        log = selectors.delivery_log(subscription=subscription)
        return render(
            request,
            "tracking/webhooks/detail.html",
            {
                "subscription": subscription,
                "log": log,
                "replayable": FINAL_DELIVERY_STATUSES,
                "submission": new_submission_token(),
                "breadcrumbs": _crumbs(subscription.mid or subscription.tracking_number),
            },
        )


class WebhookStatusView(SubscriptionView):
    def post(self, request, public_id):
        subscription = self.get_subscription()
        form = SubscriptionStatusForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose Enable or Disable.")
            return self.back()
        try:
            subscription_update(
                subscription=subscription, actor=request.user, status=form.cleaned_data["status"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return self.back()
        enabled = subscription.status == SubscriptionStatus.ENABLED
        messages.success(
            request,
            "The subscription is enabled; waiting deliveries are sent within a minute."
            if enabled
            else "The subscription is disabled; nothing is sent until you enable it.",
        )
        return self.back()


class WebhookDeleteView(SubscriptionView):
    def post(self, request, public_id):
        subscription = self.get_subscription()
        try:
            subscription_delete(subscription=subscription, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return self.back()
        messages.success(request, "The subscription is deleted; deliveries not yet sent stop.")
        return redirect("tracking:webhooks")


class DeliveryReplayView(SubscriptionView):
    def get_delivery(self) -> WebhookDelivery:
        found = (
            selectors.deliveries_of_provider(provider_id=self.provider.pk)
            .filter(subscription=self.get_subscription(), public_id=self.kwargs["delivery_id"])
            .first()
        )
        if found is None:
            raise Http404("No such delivery.")
        return found

    def http_method_not_allowed(self, request, *args, **kwargs):
        self.get_delivery()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def post(self, request, public_id, delivery_id):
        delivery = self.get_delivery()
        form = OneTimeForm(request.POST)
        if not form.is_valid():
            messages.error(request, "This form was sent incomplete; reload the page.")
            return self.back()
        token = form.cleaned_data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "That replay was already requested by your first click.")
            return self.back()
        try:
            replay_delivery(delivery=delivery, actor=request.user)
        except DomainError as exc:
            release_submission(request, token)
            messages.error(request, exc.message)
            return self.back()
        messages.success(
            request, f"Delivery {delivery.public_id} is queued to be sent again, with the same id."
        )
        return self.back()
