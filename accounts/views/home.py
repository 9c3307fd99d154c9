from django.shortcuts import redirect, render


def home(request):
    """Signed-in people go to their dashboard; everyone else sees what the portal is for."""
    if request.user.is_authenticated:
        return redirect("agreements:dashboard")
    return render(request, "home.html")
