"""The headless Chromium page of the admin's browser tests, for the overview's."""

from orgs.tests.test_admin_browser import page  # noqa: F401 - a fixture
