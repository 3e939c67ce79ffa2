"""REST API routes of the portal."""

urlpatterns: list = []
