"""The floor's one URL, at the API's path."""

from django.urls import path

from bench.floor.views import decide

urlpatterns = [path("api/v1/decisions", decide)]
