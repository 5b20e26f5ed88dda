"""The supervisors' page used as a supervisor uses it (hsup20), in headless chromium against
a real `callguard serve` (this node's log file): what a row says (the called party's
clock across a DST change, counts per verdict), hostile text from a dialer, the node
restarting under the page, every place taken, a burst of decisions.

The browser fixture is ``tests/test_supervisor_page.py``'s, with the browser's console
kept (``goog:loggingPrefs``) so that it can be searched for numbers too.
"""

from __future__ import annotations

import http.client
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callguard.fronts.http.supervisor import MAX_TAILS, page_record
from tests.redis_server import RedisServer
from tests.serve_node import AT, TOKEN, ServeNode, write_lists
from tests.test_supervisor_page import (
    CHROMIUM,
    LISTED,
    SEVEN_DIGITS,
    live,
    numbers,
    open_tail,
    rows,
    wait,
)

# 2026-03-08, 2:00 a.m. in Denver: clocks go to 3:00 (MST -07:00 to MDT -06:00)
BEFORE_DST = "2026-03-08T08:30:00Z"  # 01:30 MST
AFTER_DST = "2026-03-08T09:30:00Z"  # 03:30 MDT


@pytest.fixture(scope="module")
def console_browser() -> Iterator[object]:
    """Headless chromium (Debian's), its console log kept."""
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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def node(tmp_path) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path)
    write_lists(serve.data, LISTED)
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()


@pytest.fixture(params=["file", "stream"])
def either_node(request, tmp_path) -> Iterator[ServeNode]:
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


def open_page(driver, node: ServeNode) -> None:
    driver.get(f"http://127.0.0.1:{node.http_port}/supervisor#token={TOKEN}")
    live(driver)


def cells(driver) -> list[dict[str, str]]:
    """Each row's cells by column heading, and its title (the decision id)."""
    return driver.execute_script(
        "const heads = [...document.querySelectorAll('#tail thead th')].map(h => "
        "h.textContent); return [...document.querySelectorAll('#rows tr')].map(r => "
        "Object.assign({title: r.title}, Object.fromEntries([...r.children].map("
        "(td, i) => [heads[i], td.textContent]))))")


def decisions(driver) -> int:
    """Rows of decisions (a node's start writes a ``packs-loaded`` row too)."""
    return sum(1 for row in rows(driver) if row["number"])


def counted(driver) -> str:
    """The header's count, the rows of packs loaded left out."""
    text = driver.find_element("id", "count").text
    return text.replace("packs-loaded 1, ", "").replace("packs-loaded 2, ", "")


def body(node: ServeNode, number: int, at: str, **extra: str) -> dict[str, str]:
    status, answer = node.json("/v1/check", {"number": str(number),
                                             "campaign": "ut-solar-manual", "at": at,
                                             **extra})
    assert status == 200, answer
    return answer


def test_a_row_shows_the_call_on_the_called_partys_clock_across_dst(either_node,
                                                                     console_browser):
    """The page showed only when the record was logged, in UTC: not when the call is (a
    dialer's ``at``) nor what time it is where the phone rings, the hour every
    calling-hours rule judges. Each row now shows the call on each candidate zone's clock,
    at the offset the gate judged it (the night of a DST change: 01:30 MST, then
    03:30 MDT)."""
    driver, node = console_browser, either_node
    body(node, 8015550111, BEFORE_DST)
    body(node, 8015550112, AFTER_DST)
    body(node, 8015550113, "2026-12-02T18:00:00Z")
    # 2026-11-01, 2:00 a.m. MDT: clocks go back to 1:00; 01:30 comes twice
    body(node, 8015550114, "2026-11-01T07:30:00Z")
    body(node, 8015550115, "2026-11-01T08:30:00Z")
    open_page(driver, node)
    wait(driver, lambda d: decisions(d) == 5, "five decisions")
    local = {row["number"]: row["call, on the called party's clock"]
             for row in cells(driver) if row["number"]}
    assert local == {"…0111": "Sun 2026-03-08 01:30 America/Denver (-07:00)",
                     "…0112": "Sun 2026-03-08 03:30 America/Denver (-06:00)",
                     "…0113": "Wed 2026-12-02 11:00 America/Denver (-07:00)",
                     "…0114": "Sun 2026-11-01 01:30 America/Denver (-06:00)",
                     "…0115": "Sun 2026-11-01 01:30 America/Denver (-07:00)"}, local
    # counts per verdict beside the total
    assert counted(driver) == "6 records in this tail (BLOCK 4, ALLOW 1)"
    body(node, LISTED[0], "2026-12-02T18:00:00Z")
    wait(driver, lambda d: counted(d) == "7 records in this tail (BLOCK 5, ALLOW 1)",
         "a new BLOCK is counted")


def test_a_campaign_or_location_cannot_write_markup_and_no_number_shows(node,
                                                                       console_browser):
    """A dialer's text (an unknown campaign id, a location, a reference) reaches the page
    in a recorded BLOCK's campaign and reason: it is shown as text, never run; and no
    number given anywhere is in clear on the page, its title or address, the SSE stream
    or the browser's console."""
    driver = console_browser
    hostile = '<img src=x onerror="window.__xss=1">'
    answers = [
        node.json("/v1/check", {"number": "8015550121", "campaign": hostile, "at": AT})[1],
        body(node, 8015550122, AT, location="<script>window.__xss=2</script> 8015550199"),
        body(node, 8015550123, AT, reference="<b onmouseover=x>8015550188</b>"),
    ]
    assert [a["verdict"] for a in answers] == ["BLOCK", "BLOCK", "ALLOW"]
    open_page(driver, node)
    wait(driver, lambda d: decisions(d) == 3, "three decisions")
    assert driver.execute_script("return window.__xss") is None
    assert driver.execute_script("return document.querySelectorAll('#rows img, #rows "
                                 "script, #rows b').length") == 0
    shown = cells(driver)
    assert any(hostile in row["reason"] for row in shown)  # the record keys it by hash
    assert any("<script>" in row["reason"] for row in shown)
    # the report's frame: no element from the dialer's text, no script ran in it
    frame = driver.find_element("id", "report")
    wait(driver, lambda d: "Calls by campaign" in (frame.get_attribute("srcdoc") or ""),
         "today's report is shown")
    driver.switch_to.frame(frame)
    try:
        assert driver.find_elements("css selector", "img, script, b[onmouseover]") == []
    finally:
        driver.switch_to.default_content()

    dialled = ("8015550121", "8015550122", "8015550123", *map(str, LISTED))
    console = " ".join(entry["message"] for entry in driver.get_log("browser"))
    texts = {"text": driver.find_element("tag name", "body").text, "title": driver.title,
             "url": driver.current_url, "console": console}
    for where, text in texts.items():
        assert not SEVEN_DIGITS.search(text), (where, text)
    stream = raw_events(node)
    for where, text in {**texts, "markup": driver.page_source, "stream": stream}.items():
        for number in dialled:
            assert number[-7:] not in text, (where, number)
    assert stream.count("event: record") == 3


def raw_events(node: ServeNode) -> str:
    """The SSE stream as the browser receives it, up to the backlog's end."""
    connection = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=10)
    try:
        connection.request("GET", "/supervisor/events?n=500",
                           headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        seen = b""
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # the backlog comes at once after "live"
            seen += response.read1(65536)
            if seen.count(b"event: record") >= 3:
                break
        return seen.decode()
    finally:
        connection.close()


def test_the_page_follows_the_node_through_a_restart_without_a_row_twice(either_node,
                                                                         console_browser):
    """The node stops and starts again under the page: the rows stay while it is down (not
    an empty table), the page reconnects by itself, and the backlog it is sent again
    replaces the rows: each decision once."""
    driver, node = console_browser, either_node
    for number in (8015550131, 8015550132):
        body(node, number, AT)
    open_page(driver, node)
    wait(driver, lambda d: decisions(d) == 2, "two decisions")
    assert node.stop() == 0
    wait(driver, lambda d: "reconnecting" in d.find_element("id", "status").text,
         "the page sees the node go")
    time.sleep(2.5)  # a reconnection attempt or two against a closed port
    assert numbers(driver) - {""} == {"…0131", "…0132"}  # still shown while the node is down
    node.start()
    live(driver)
    body(node, 8015550133, AT)
    wait(driver, lambda d: "…0133" in numbers(d), "a decision after the restart")
    titles = [row["title"] for row in cells(driver) if row["number"]]
    assert len(titles) == len(set(titles)) == 3, titles
    assert counted(driver) == "5 records in this tail (ALLOW 3)"  # and the two starts' packs-loaded


def test_every_place_taken_is_retried_not_left_as_an_error(node, console_browser):
    """Past MAX_TAILS pages the node answers 503; the page said "error 503" and never
    tried again, so a supervisor's page stayed dead after the place was free (and so after
    a proxy's 502 while the node restarted)."""
    driver = console_browser
    following = [open_tail(node) for _ in range(MAX_TAILS)]
    try:
        driver.get(f"http://127.0.0.1:{node.http_port}/supervisor#token={TOKEN}")
        wait(driver, lambda d: "503" in d.find_element("id", "status").text,
             "every place is taken")
        following.pop().close()
        live(driver)
    finally:
        for connection in following:
            connection.close()
    body(node, 8015550141, AT)
    wait(driver, lambda d: "…0141" in numbers(d), "the page follows again")


def test_a_burst_keeps_the_page_bounded_and_says_what_it_dropped(node, console_browser):
    """1,000 decisions while the page follows: the table keeps the newest 500 rows, the
    count says how many came and that only the newest are shown."""
    driver = console_browser
    open_page(driver, node)
    connection = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=10)
    try:
        for index in range(1000):
            connection.request("POST", "/v1/check", body=(
                f'{{"number": "80155{index:05d}", "campaign": "ut-solar-manual", '
                f'"at": "{AT}"}}'), headers={"Authorization": f"Bearer {TOKEN}",
                                           "Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200
            response.read()
    finally:
        connection.close()
    wait(driver, lambda d: "ALLOW 1000" in d.find_element("id", "count").text,
         "every decision came", timeout=60)
    assert len(rows(driver)) == 500
    assert driver.find_element("id", "count").text.endswith("; newest 500 shown")
    heap = driver.execute_script("return performance.memory.usedJSHeapSize")
    assert heap < 64 * 2**20, heap


def test_page_record_local_time_from_the_judged_offset():
    """The recorded offset, every candidate zone; none or nonsense: no zone claimed."""
    two = page_record({"at": AFTER_DST, "zones": [["America/Denver", "-06:00", "npa"],
                                                  ["America/Phoenix", "-07:00", "npa"]]})
    assert two["called_local"] == ("Sun 2026-03-08 03:30 America/Denver (-06:00); "
                                   "Sun 2026-03-08 02:30 America/Phoenix (-07:00)")
    assert page_record({"at": AFTER_DST, "zones": []})["called_local"] == (
        "Sun 2026-03-08 09:30 UTC (zone unknown)")
    assert page_record({"at": AFTER_DST, "zones": [["x", "soon"], "y", [1, 2]]})[
        "called_local"].endswith("UTC (zone unknown)")
    assert "called_local" not in page_record({"at": "yesterday"})
    assert "called_local" not in page_record({"zones": [["America/Denver", "-06:00"]]})
    digits = page_record({"at": AFTER_DST, "zones": [["8015550123", "-06:00"]]})
    assert not SEVEN_DIGITS.search(digits["called_local"])


def test_a_token_in_the_address_that_does_not_decode_leaves_the_address_bar(
        node, console_browser):
    """``#token=`` with a stray ``%`` made ``decodeURIComponent`` throw: the script
    stopped, the page stayed blank and the token stayed in the address bar (and the
    tab's history). It is taken out first, and taken as written (refused here)."""
    driver = console_browser
    driver.get(f"http://127.0.0.1:{node.http_port}/supervisor#token=wrong%zz")
    wait(driver, lambda d: d.find_element("id", "login-error").text
         == "That token was refused.", "the login form says the token was refused")
    assert "token" not in driver.current_url
    assert "%zz" not in driver.current_url


def test_a_node_with_no_live_source_is_said_once_not_polled(tmp_path, console_browser):
    """``[log] file = "-"`` without a stream: the page was told "none", then its stream
    ended and it reconnected every 2 s, the status flipping to "reconnecting" (the node
    is fine). It says "no live source" and stays."""
    serve = ServeNode(tmp_path)
    serve.config.write_text(serve.config.read_text().replace('\nfile = ""\n',
                                                             '\nfile = "-"\n', 1))
    write_lists(serve.data, LISTED)
    serve.start()
    driver = console_browser
    try:
        driver.get(f"http://127.0.0.1:{serve.http_port}/supervisor#token={TOKEN}")
        wait(driver, lambda d: d.find_element("id", "status").text == "no live source",
             "the page says there is nothing to follow")
        driver.execute_script(
            "window.__follows = 0; const f = window.fetch; window.fetch = (...a) => {"
            "if (String(a[0]).startsWith('/supervisor/events')) window.__follows += 1;"
            "return f(...a); };")
        seen = set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            seen.add(driver.find_element("id", "status").text)
            time.sleep(0.2)
        assert seen == {"no live source"}
        assert driver.execute_script("return window.__follows") == 0
    finally:
        serve.stop()


@pytest.mark.parametrize("zone", ["America/Phoenix", "America/St_Johns", "Asia/Katmandu"])
def test_today_is_the_supervisors_day_by_default(node, console_browser, zone):
    """The report's zone was UTC until chosen: a supervisor in Denver opening the page at
    6 p.m. saw a "today" begun an hour before. It is the browser's own zone (added to the
    list when it is not there)."""
    driver = console_browser
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})
    try:
        open_page(driver, node)
        from selenium.webdriver.support.ui import Select

        assert Select(driver.find_element("id", "tz")).first_selected_option.text == zone
        frame = driver.find_element("id", "report")
        wait(driver, lambda d: f"({zone})" in (frame.get_attribute("srcdoc") or ""),
             "today's report in the browser's zone")
    finally:
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
