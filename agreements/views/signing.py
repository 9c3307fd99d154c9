"""(Being built.)"""

urlpatterns: list = []
