"""The watchlist pages in headless Chromium: an administrator allows someone on weekday mornings through the
form, and every list is photographed with members on it, at desktop and tablet width."""

from datetime import time, timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry
from tests.access.conftest import make_user
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

from .conftest import TABLET

PASSWORD = "unused-pw-123"  # make_user's

pytestmark = pytest.mark.django_db(transaction=True)


def page_overflow(browser) -> int:
    return browser.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )


def test_an_admin_allows_someone_on_weekday_mornings(browser, person, door):
    make_user("admin")
    browser.log_in("admin-user", PASSWORD)
    browser.open("/dashboard/watchlists/")
    form = browser.driver.find_element(By.ID, "add-entry")

    Select(form.find_element(By.NAME, "person")).select_by_visible_text(str(person))
    Select(form.find_element(By.NAME, "door")).select_by_visible_text("Main entrance")
    for day in ("0", "1", "2", "3", "4"):
        form.find_element(By.CSS_SELECTOR, f'input[name="weekdays"][value="{day}"]').click()
    for name, value in (("starts_at", "07:00"), ("ends_at", "12:00")):
        browser.driver.execute_script(
            "arguments[0].value = arguments[1];", form.find_element(By.NAME, name), value
        )
    form.find_element(By.NAME, "note").send_keys("Morning cleaner")
    browser.screenshot("watchlist-allow-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    row = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#allow-entries tr[data-entry-id]"),
        "the new allow entry in the list",
    )
    entry = AllowEntry.objects.get()
    assert row.get_attribute("data-entry-id") == str(entry.pk)
    assert "Morning cleaner" in row.text and "In force" in row.text
    assert entry.schedule.count() == 5
    assert set(entry.schedule.values_list("starts_at", "ends_at")) == {(time(7), time(12))}
    assert "Monday 07:00-12:00" in row.text and "Friday 07:00-12:00" in row.text
    assert "Added: Abdullah Gul (E-1001) may pass Main entrance." in browser.driver.find_element(
        By.CSS_SELECTOR, ".message.success").text
    browser.screenshot("watchlist-allow")
    browser.screenshot("watchlist-allow-tablet", TABLET)
    assert page_overflow(browser) <= 0, "the allow list scrolls sideways at tablet width"


def test_the_block_and_missing_lists_with_members(browser, person, person_without_consent):
    admin = make_user("admin")
    BlockEntry.objects.create(person=person, reason="Trespass on 3 May", added_by=admin,
                              expires_at=timezone.now() + timedelta(days=90))
    MissingEntry.objects.create(person=person_without_consent, case_number="MP-2041",
                                reporting_contact="Sister, +44 20 7946 0000",
                                alert_recipients=["duty@example.org", "night@example.org"])
    browser.log_in("admin-user", PASSWORD)

    browser.open("/dashboard/watchlists/block/")
    assert "Trespass on 3 May" in browser.driver.find_element(By.ID, "block-entries").text
    browser.screenshot("watchlist-block")
    browser.open("/dashboard/watchlists/missing/")
    case = browser.driver.find_element(By.ID, "missing-entries").text
    assert "MP-2041" in case and "night@example.org" in case and "Open" in case
    browser.screenshot("watchlist-missing")
    browser.screenshot("watchlist-missing-tablet", TABLET)
    assert page_overflow(browser) <= 0, "the missing list scrolls sideways at tablet width"

    browser.driver.find_element(By.CSS_SELECTOR, "button.close-case").click()
    browser.wait_for(
        lambda driver: "Closed case MP-2041" in driver.find_element(By.CSS_SELECTOR, ".message").text,
        "the case to close",
    )
    assert MissingEntry.objects.get().closed_at is not None


def test_an_operator_edits_an_allow_entry_from_the_person_page(browser, person, door):
    entry = AllowEntry.objects.create(person=person, door=door, note="Day shift")
    BlockEntry.objects.create(person=person, reason="Left a door propped open")
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)
    browser.open(f"/dashboard/people/{person.pk}/")

    listed = f'[data-list="allow"] [data-entry-id="{entry.pk}"]'
    browser.driver.find_element(By.CSS_SELECTOR, f"{listed} a.edit-entry").click()
    form = browser.wait_for(lambda driver: driver.find_element(By.ID, "edit-entry"), "the edit page")
    assert browser.driver.find_element(By.NAME, "person").get_attribute("disabled") == "true"
    form.find_element(By.CSS_SELECTOR, 'input[name="weekdays"][value="5"]').click()
    for name, value in (("starts_at", "10:00"), ("ends_at", "16:00")):
        browser.driver.execute_script(
            "arguments[0].value = arguments[1];", form.find_element(By.NAME, name), value
        )
    note = form.find_element(By.NAME, "note")
    note.clear()
    note.send_keys("Saturday cover")
    browser.screenshot("watchlist-allow-edit-tablet", TABLET)
    assert page_overflow(browser) <= 0, "the edit page scrolls sideways at tablet width"
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    allow_list = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, '[data-list="allow"]'), "the person page again"
    )
    assert browser.driver.current_url.endswith(f"/dashboard/people/{person.pk}/#lists")
    assert "Saturday 10:00-16:00" in allow_list.text and "Saturday cover" in allow_list.text
    assert list(entry.schedule.values_list("weekday", "starts_at", "ends_at")) == [(5, time(10), time(16))]

    block = browser.driver.find_element(By.CSS_SELECTOR, '[data-list="block"] li[data-entry-id]')
    assert not block.find_element(By.CSS_SELECTOR, "button.remove").is_displayed(), "removing asks first"
    block.find_element(By.CSS_SELECTOR, "details.remove-entry summary").click()
    block.find_element(By.CSS_SELECTOR, "button.remove").click()
    browser.wait_for(lambda _: not BlockEntry.objects.exists(), "the block to be removed")
    assert AllowEntry.objects.filter(pk=entry.pk).exists()
