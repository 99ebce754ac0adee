"""The Dagster UI in headless Chromium: an imported month's asset page, its counts and checks.

The month is imported the way an operator does it (`dagster asset materialize` against a moto
server); the UI is `dagster-webserver` alone, so no sensor run changes the page while the test
reads it. Chromium is Debian's (`.ci/run` installs it), driven by Playwright's Python package
with `executable_path`: no browser is downloaded. Without it the test is skipped, saying why,
except where `STATEMENT_PIPELINE_BROWSER=required` (CI sets it): there it fails.

`pytest statement_pipeline_tests/test_browser.py --screenshot-to docs/asset-page.png`
(`make screenshot`) also writes the page shown in the docs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from statement_harness import scenarios
from statement_pipeline.aws.bootstrap import bootstrap_from_environment
from statement_pipeline.local_aws.server import free_port
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.processes import (
    BIN,
    background,
    dagster_home,
    ui_locations,
    wait_for,
)
from statement_samples.upload import upload_sample_month

MONTH = "2026-10"
# An unusual count, so that finding it on the page means the month's figure, not a stray 4.
RECORDS = 1234
CHECKS = (
    "no_rejected_rows",
    "queue_drained",
    "reject_rate_below_limit",
    "table_count_matches_valid_rows",
)
# Chromium on a closed network: no sandbox as root, no GPU, and none of the background
# connections (updates, sync, QUIC) that would only be refused, over and over.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 60_000


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)


CHROMIUM = _chromium()
# .ci/run sets it to `required`: there a missing browser fails the test instead of skipping it.
REQUIRED_ENV = "STATEMENT_PIPELINE_BROWSER"


def _missing_browser() -> str | None:
    if CHROMIUM is None:
        return "no chromium on this machine (.ci/run installs Debian's chromium package)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (it is in the dev extra)"
    return None


@pytest.fixture(autouse=True)
def browser_present() -> None:
    """Skip without Chromium or Playwright, saying why; fail instead where CI requires them."""
    missing = _missing_browser()
    if missing is None:
        return
    if os.environ.get(REQUIRED_ENV) == "required":
        pytest.fail(f"{REQUIRED_ENV}=required: {missing}")
    pytest.skip(missing)


@pytest.fixture
def imported_month_ui(moto_endpoint: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a Dagster UI whose instance holds one imported sample month."""
    names = Names()
    bootstrap_from_environment(names)
    upload_sample_month(names, MONTH, RECORDS, files=2, seed=5)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(tmp_path))}
    imported = subprocess.run(
        scenarios.cli_command(MONTH),
        env=env,
        capture_output=True,
        text=True,
        timeout=scenarios.CLI_TIMEOUT,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout[-4000:] + imported.stderr[-4000:]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "dagster-webserver"), "-m", "statement_pipeline"]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    with background(command, env, tmp_path / "webserver.log") as webserver:
        wait_for(lambda: ui_locations(url), 120, "the Dagster UI", webserver.output)
        yield url


def test_the_asset_page_shows_the_months_counts_and_passing_checks(
    imported_month_ui: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from playwright import sync_api

    # Assertions wait as long as actions: on a loaded CI machine the partition's detail panel
    # took more than Playwright's default 5 s to load. An instance of its own leaves the
    # module-wide `expect` as it is.
    expect = sync_api.Expect()
    expect.set_options(timeout=UI_TIMEOUT_MS)
    screenshot = tmp_path / "asset-page.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            # The UI's one-time "Join the Dagster community" dialog would cover the page.
            page.add_locator_handler(
                page.get_by_role("button", name="Skip"), lambda skip: skip.click()
            )

            # The month's partition: materialized, with its figures.
            page.goto(
                f"{imported_month_ui}/assets/loaded_statements?view=partitions&partition={MONTH}"
            )
            detail = page.locator("div").filter(has=page.get_by_text("Latest materialization"))
            detail = detail.filter(has=page.get_by_text(MONTH, exact=True)).last
            expect(detail.get_by_text("Materialized", exact=True).first).to_be_visible()
            count = re.compile(rf"^{RECORDS}$|^{RECORDS:,}$")
            expect(detail.get_by_text(count).first).to_be_visible()

            # The checks tab: every check of the asset was evaluated on the month and passed.
            page.get_by_role("tab", name="Checks").click()
            expect(page.get_by_text("Succeeded", exact=True)).to_have_count(len(CHECKS))
            for name in CHECKS:
                # The list shows long names middle-truncated, with the whole name as a title.
                page.get_by_title(name, exact=True).click()
                expect(page).to_have_url(re.compile(rf"checkDetail={name}"))
                expect(page.get_by_text(name, exact=True).filter(visible=True).last).to_be_visible()
                # Its latest execution: passed, on the month's partition.
                expect(page.get_by_text("Passed", exact=True)).to_be_visible()
                expect(page.get_by_text(MONTH, exact=True)).to_be_visible()

            # The overview, with the latest check results opened: what the docs show.
            page.get_by_role("tab", name="Overview").first.click()
            expect(page.get_by_text(MONTH, exact=True).first).to_be_visible()
            # The catalog's affordances: kinds, owners, and a link to the asset's source file.
            for kind in ("dynamodb", "sqs"):
                expect(page.get_by_text(kind, exact=True).first).to_be_visible()
            expect(page.get_by_text("data-engineering", exact=True).first).to_be_visible()
            source = page.get_by_role("link", name=re.compile(r"^Open loading\.py.* in editor$"))
            expect(source).to_have_attribute(
                "href", re.compile(r"statement_pipeline/assets/loading\.py:\d+$")
            )
            badge = page.get_by_text("Latest check results").locator("xpath=..")
            badge.get_by_role("img", name="check_circle").hover()
            popover = page.locator(".bp5-popover").filter(has_text="Succeeded checks")
            for name in CHECKS:
                expect(popover.get_by_text(name, exact=True)).to_be_visible()
            page.screenshot(path=str(screenshot), animations="disabled")
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    target = request.config.getoption("--screenshot-to")
    if target:
        shutil.copyfile(screenshot, target)
