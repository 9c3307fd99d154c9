def portal(request):
    """The header's organisation switcher and the side navigation read `portal`."""
    return {"portal": getattr(request, "portal", None)}
