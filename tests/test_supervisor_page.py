"""The supervisors' page, end to end in a real headless browser (Debian's chromium and
chromium-driver, driven by selenium) against a real `callguard serve`: the tail of this
node's log file, and of the Redis Stream of every node.

What it shows: a decision made after the page loaded appears live; the verdict, campaign
and rule filters work; today's report tables come from ``callguard report``'s code; no
run of 7+ digits is in the page's text and no dialled number in its markup; the node
stops at once with a page still connected. A screenshot is written by every run (to
``$CALLGUARD_ARTIFACTS`` or pytest's temporary directory; never committed).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callguard.fronts.http.supervisor import MAX_TAILS, page_record
from tests.redis_server import RedisServer
from tests.serve_node import AT, ServeNode, write_lists

CHROMIUM = "/usr/bin/chromium"
LISTED = (8015550199, 8015550188)
SEVEN_DIGITS = re.compile(r"\d{7,}")  # \d: digits of every script


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless chromium through chromium-driver (no download: both come from Debian)."""
    driver_path = shutil.which("chromedriver")
    if driver_path is None or not Path(CHROMIUM).exists():
        raise RuntimeError("chromium and chromium-driver are not installed: run "
                           "scripts/test.sh, which installs Debian's packages")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1400,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(params=["file", "stream"])
def node(request, tmp_path) -> Iterator[ServeNode]:
    """A node whose page tails its own log file, or the Redis Stream of every node."""
    redis = None
    if request.param == "stream":
        redis = RedisServer(tmp_path / "redis")
        redis.data_dir.mkdir()
        redis.start()
    serve = ServeNode(tmp_path, redis_url=redis.url if redis else None,
                      redis_stream=redis is not None)
    write_lists(serve.data, LISTED)
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()
        if redis is not None:
            redis.stop()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    """Where the screenshot goes: ``$CALLGUARD_ARTIFACTS`` or this test's temporary dir."""
    target = Path(os.environ.get("CALLGUARD_ARTIFACTS") or tmp_path / "artifacts")
    target.mkdir(parents=True, exist_ok=True)
    return target


def check(node: ServeNode, number: int, campaign: str = "ut-solar-manual", *,
          at: str | None = AT) -> str:
    """One decision over HTTP; its verdict."""
    body = {"number": str(number), "campaign": campaign}
    if at is not None:
        body["at"] = at
    status, answer = node.json("/v1/check", body)
    assert status == 200, answer
    return answer["verdict"]


def rows(driver) -> list[dict[str, str]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#rows tr')].map(r => ({verdict: "
        "r.dataset.verdict, campaign: r.dataset.campaign, rule: r.dataset.rule, "
        "number: r.querySelector('td.number').textContent}))")


def wait(driver, condition, what: str, timeout: float = 20):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(
            condition)
    except TimeoutException:
        raise AssertionError(f"{what}; rows: {rows(driver)}; status: "
                             f"{driver.find_element('id', 'status').text}") from None


def live(driver) -> None:
    wait(driver, lambda d: d.find_element("id", "status").text == "live", "the tail is live")


def numbers(driver) -> set[str]:
    return {r["number"] for r in rows(driver)}


def choose(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", element_id)).select_by_value(value)


def test_live_tail_filters_report_and_no_number(node, browser, artifacts):
    """The page as a supervisor uses it, in a real browser."""
    driver = browser
    assert check(node, 8015550123) == "ALLOW"
    assert check(node, LISTED[0]) == "BLOCK"
    today = [check(node, 8015550177, at=None), check(node, 8015550178, at=None)]
    assert len(today) == 2

    driver.get(f"http://127.0.0.1:{node.http_port}/supervisor#token={node.env['CALLGUARD_HTTP_TOKEN']}")
    live(driver)
    assert "token" not in driver.current_url  # taken out of the address bar at once
    wait(driver, lambda d: {"…0123", "…0199", "…0177", "…0178"} <= numbers(d),
         "the backlog is shown")

    # A decision made after the page loaded appears, without a reload.
    assert check(node, 8015550142) == "ALLOW"
    wait(driver, lambda d: "…0142" in numbers(d), "a new decision appears live")

    # Verdict: only BLOCKs, the backlog's and a new one; an ALLOW made before it is not shown.
    choose(driver, "verdict", "BLOCK")
    live(driver)
    wait(driver, lambda d: "…0199" in numbers(d), "the BLOCK backlog")
    assert check(node, 8015550155) == "ALLOW"
    assert check(node, LISTED[1]) == "BLOCK"
    wait(driver, lambda d: "…0188" in numbers(d), "a new BLOCK appears under the filter")
    assert {r["verdict"] for r in rows(driver)} == {"BLOCK"}
    assert "…0155" not in numbers(driver)

    # Campaign.
    choose(driver, "verdict", "")
    choose(driver, "campaign", "insurance-reminders")
    live(driver)
    check(node, 8015550144)  # ut-solar-manual: not shown
    check(node, 8015550133, "insurance-reminders")
    wait(driver, lambda d: "…0133" in numbers(d), "a decision of the chosen campaign")
    assert {r["campaign"] for r in rows(driver)} == {"insurance-reminders"}
    assert "…0144" not in numbers(driver)

    # Deciding rule (typed, then applied).
    choose(driver, "campaign", "")
    field = driver.find_element("id", "rule")
    field.send_keys("us-federal:64.1200(c)(2)")
    driver.find_element("id", "apply").click()
    live(driver)
    wait(driver, lambda d: {"…0199", "…0188"} <= numbers(d), "blocks by the national list")
    assert {r["rule"] for r in rows(driver)} == {"us-federal:64.1200(c)(2)"}

    # Today's report: the tables of `callguard report`, the two calls placed today.
    frame = driver.find_element("id", "report")
    wait(driver, lambda d: "Calls by campaign" in (frame.get_attribute("srcdoc") or ""),
         "today's report is shown")
    driver.switch_to.frame(frame)
    report_text = driver.find_element("tag name", "body").text
    report_source = driver.page_source
    driver.switch_to.default_content()
    assert "2 calls" in report_text
    assert "ut-solar-manual" in report_text

    # No clear number: no run of 7+ digits in any text, no dialled number in any markup.
    page_text = driver.find_element("tag name", "body").text
    for text in (page_text, report_text):
        assert not SEVEN_DIGITS.search(text), SEVEN_DIGITS.search(text)
    dialled = (8015550123, *LISTED, 8015550177, 8015550178, 8015550142, 8015550155,
               8015550144, 8015550133)
    for markup in (driver.page_source, report_source):
        for number in dialled:
            assert str(number)[-7:] not in markup

    shot = artifacts / f"supervisor-page-{'stream' if node.redis_stream else 'file'}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The node stops at once although the page is still following it.
    started = time.monotonic()
    assert node.stop() == 0
    assert time.monotonic() - started < 10


def test_data_needs_the_token(tmp_path):
    """The shell is open (markup only); every route that carries data wants the token, and
    a wrong token gets the login form back, not data."""
    serve = ServeNode(tmp_path)
    write_lists(serve.data, LISTED)
    serve.start()
    try:
        status, shell = serve.http("/supervisor", token=None)
        assert status == 200
        assert "Bearer" in shell
        for path in ("/supervisor/events", "/supervisor/report", "/supervisor/meta"):
            assert serve.http(path, token=None)[0] == 401
            assert serve.http(path, token="wrong")[0] == 401
        assert serve.http("/supervisor/report?tz=Mars/Olympus")[0] == 400
        # a tzdata directory is no zone either: IsADirectoryError was a 500 (hrev24)
        assert serve.http("/supervisor/report?tz=America")[0] == 400
        assert serve.http("/supervisor/events?verdict=MAYBE")[0] == 400
        # Pages following at once are capped (each file tail holds a thread); past the cap
        # a clear 503, and a closed page frees its place.
        following = []
        try:
            for _ in range(MAX_TAILS):
                following.append(open_tail(serve))
            assert serve.http("/supervisor/events")[0] == 503
            following.pop().close()
            serve.until(lambda: open_tail(serve, keep=False), timeout=5,
                        what="a place is free again (a closed page is seen within 1 s)")
        finally:
            for connection in following:
                connection.close()
    finally:
        serve.stop()


def open_tail(serve: ServeNode, *, keep: bool = True) -> http.client.HTTPConnection | bool:
    """A page following the tail (read up to its ``live`` event); with ``keep=False``
    whether one could be opened."""
    connection = http.client.HTTPConnection("127.0.0.1", serve.http_port, timeout=10)
    connection.request("GET", "/supervisor/events?n=0", headers={
        "Authorization": f"Bearer {serve.env['CALLGUARD_HTTP_TOKEN']}"})
    response = connection.getresponse()
    if response.status != 200:
        connection.close()
        assert not keep, response.status
        return False
    seen = b""
    while b"event: live" not in seen:
        seen += response.read1(4096)
    if not keep:
        connection.close()
        return True
    return connection


class TestPageRecord:
    """What a record becomes on its way to the page."""

    def test_hash_and_unlisted_fields_are_not_sent(self):
        record = {"event": "decision", "verdict": "ALLOW", "number_hash": "ab" * 32,
                  "number_last4": "0123", "key_id": "d6dd6f83", "campaign": "c",
                  "outcomes": [{"rule": "x"}], "lists": {"national": 3}}
        sent = page_record(record)
        assert sent == {"event": "decision", "verdict": "ALLOW", "number_last4": "0123",
                        "campaign": "c"}

    def test_a_rule_id_is_shown_whole_and_a_number_in_it_is_not(self):
        """H.B. 45's ids read as a 10-digit run across pack id and section."""
        assert page_record({"rule": "us-ut-hb45-2000:13-26a-106(1)(g)"})["rule"] == (
            "us-ut-hb45-2000:13-26a-106(1)(g)")
        assert not SEVEN_DIGITS.search(page_record({"rule": "x:8015550123"})["rule"])

    def test_a_number_in_free_text_is_redacted(self):
        sent = page_record({"reason": "caller said call me at 801 555 0123 or 8015550123"})
        assert not SEVEN_DIGITS.search(sent["reason"])
        assert "0123" in sent["reason"]


def test_todays_report_is_today_only():
    """The page's "today" ends at the zone's next midnight: a call dated tomorrow (an HTTP
    check's ``at``) was counted and its day drawn, under a header saying 'until: now'."""
    import orjson

    from callguard.fronts.http.supervisor import today_report
    from tests.log_files import synthetic

    template = next(orjson.loads(line) for line in synthetic(2) if b'"decision"' in line)
    now = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # 14:00 in Denver
    records = [{**template, "front": "http", "at": at, "logged_at": "2026-12-04T20:00:00.000Z",
                "decision_id": f"01a242e4-0000-7000-8000-00000000000{index}"}
               for index, at in enumerate(["2026-12-04T20:00:00.000Z",   # today in both
                                           "2026-12-05T03:00:00.000Z",   # Denver's today
                                           "2026-12-05T18:00:00.000Z"])]  # tomorrow
    for tz, calls, until in (("America/Denver", 2, "2026-12-05T00:00:00-07:00"),
                             ("UTC", 1, "2026-12-05T00:00:00Z")):
        page = today_report(records, None, tz, now)
        assert f"<p>{calls} calls (" in page, (tz, page[:2000])
        assert f"until: {until}" in page, (tz, page[:2000])


def test_a_rule_id_in_the_reason_is_shown_as_the_rule_field_shows_it():
    """Session 16: the ``rule`` field kept H.B. 45's id whole, the ``reason`` naming the
    same rule still showed ``us-ut-hb[number …1326]a-106(1)(g)``; a number elsewhere in the
    reason, or inside a rule id, is still taken out."""
    rule = "us-ut-hb45-2000:13-26a-106(1)(g)"
    reason = (f"Blocked by {rule}: no registration on file "
              "(H.B. 45 (2000), proposed 13-26a-106(1)(g)); caller said 801 555 0123.")
    sent = page_record({"rule": rule, "reason": reason})
    assert sent["reason"].startswith(f"Blocked by {rule}: no registration")
    assert not SEVEN_DIGITS.search(sent["reason"])
    outcome = "us-ut-hb45-2000:13-26a-105(3)"
    sent = page_record({"rule": "x", "outcomes": [{"rule": outcome}],
                        "reason": f"exempt: {outcome}"})
    assert sent["reason"] == f"exempt: {outcome}"
    hostile = page_record({"rule": "x:8015550123", "reason": "Blocked by x:8015550123: ok"})
    assert not SEVEN_DIGITS.search(hostile["reason"])
    marked = page_record({"rule": rule, "reason": f"\ue000 {rule} 8015550123"})
    assert not SEVEN_DIGITS.search(marked["reason"])
