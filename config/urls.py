"""Root URL configuration."""

from django.contrib import admin
from django.urls import path
from django.views.generic import TemplateView

from config.health import healthz

admin.site.site_header = "Tracking Access Portal: staff"
admin.site.site_title = "Tracking Access Portal"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
