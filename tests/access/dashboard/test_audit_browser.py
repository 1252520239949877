"""The audit log in headless Chromium: an administrator's change through the dashboard is in the log, found
with the page's filters."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from access.audit.models import AuditLog
from access.watchlists.models import BlockEntry
from tests.access.conftest import make_user
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

from .conftest import TABLET

PASSWORD = "unused-pw-123"  # make_user's

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dashboard_change_is_found_in_the_audit_log(browser, person):
    make_user("admin")
    block = BlockEntry.objects.create(person=person, reason="Trespass on 3 May")
    browser.log_in("admin-user", PASSWORD)
    browser.open("/dashboard/watchlists/block/")
    row = browser.driver.find_element(By.CSS_SELECTOR, f'[data-entry-id="{block.pk}"]')
    row.find_element(By.CSS_SELECTOR, "details.remove-entry summary").click()  # asks first
    row.find_element(By.CSS_SELECTOR, "button.remove").click()
    browser.wait_for(lambda _: not BlockEntry.objects.exists(), "the block to be removed")

    browser.open("/dashboard/audit/")
    Select(browser.driver.find_element(By.NAME, "action")).select_by_value("delete")
    Select(browser.driver.find_element(By.NAME, "object_type")).select_by_value("watchlists.blockentry")
    browser.driver.find_element(By.CSS_SELECTOR, "#audit-filters button[type=submit]").click()

    rows = browser.wait_for(
        lambda driver: "action=delete" in driver.current_url
        and driver.find_elements(By.CSS_SELECTOR, "#audit-entries tr[data-entry-id]"),
        "the filtered log",
    )
    entry = AuditLog.objects.get(action="delete")
    assert [row.get_attribute("data-entry-id") for row in rows] == [str(entry.pk)]
    assert "admin-user" in rows[0].text and "Trespass on 3 May" in rows[0].text
    rows[0].find_element(By.CSS_SELECTOR, "summary").click()
    assert "Trespass on 3 May → —" in rows[0].find_element(By.CSS_SELECTOR, ".changes dl").text
    browser.screenshot("audit")
    browser.screenshot("audit-tablet", TABLET)
    overflow = browser.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the audit log scrolls sideways by {overflow} px at tablet width"
