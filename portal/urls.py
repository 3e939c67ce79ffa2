"""Pages of the portal (filled in by its issue)."""

urlpatterns: list = []
