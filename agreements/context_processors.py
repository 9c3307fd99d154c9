def reacceptance_banner(request):
    """(Being built.) Banners shown on every portal page, as `portal_banners`."""
    return {"portal_banners": []}
