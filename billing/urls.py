"""Portal pages of billing (invoices, payment methods). billing.views owns the routes."""

from billing.views import urlpatterns as portal_urlpatterns

app_name = "billing"
urlpatterns = [*portal_urlpatterns]
