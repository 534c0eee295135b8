"""The operator console in a real headless browser (Debian's chromium, driven by Playwright) on the local
runtime: sign-in, materials with thumbnails and reasons, a tag edit, an upload from the browser.

Each step saves a screenshot under out/console/ and asserts on what the page shows.
"""

from __future__ import annotations

import re

import boto3
import pytest
import requests
from browser_tools import AXE_CORE_JS, chromium
from creative.config import SelectConfig
from demo import image_files, report

from infra.paths import OUT_DIR
from tests.polling import poll

pytestmark = pytest.mark.e2e

CHROMIUM = chromium()
SCREENSHOTS = OUT_DIR / "console"
LINE = "console"
# Playwright waits up to this long for what a step expects (admission of an upload included).
WAIT_MS = 60_000

if CHROMIUM is None:
    pytest.skip(
        "no chromium on this machine: `make test` installs Debian's chromium (apt-get install chromium)",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip("playwright.sync_api")
playwright_api.expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def runtime():
    from local_runtime.runtime import LocalRuntime
    from stack_build.synth import synthesize

    synthesize()
    with LocalRuntime() as running:
        s3 = boto3.client(
            "s3",
            endpoint_url=running.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        bucket = running.outputs["UploadsBucketName"]
        # Given a photo that admission admits and a decompression bomb it rejects
        s3.put_object(Bucket=bucket, Key=f"uploads/{LINE}/cats/chelsea.png", Body=image_files.photo_bytes())
        s3.put_object(
            Bucket=bucket, Key=f"uploads/{LINE}/cats/bomb.png", Body=image_files.decompression_bomb_png()
        )
        s3.put_object(
            Bucket=bucket, Key=f"uploads/{LINE}/cats/copy.txt", Body=b"Cats love this\nNap-tested beds\n"
        )
        running.drain_queues(timeout=120)
        running.fire_schedule("compose_creatives")
        running.fire_schedule("retrain_ctr")  # too few impressions: a run that says so, no model
        yield running


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    # The accessibility pass injects axe-core as an inline script, which the console's CSP forbids.
    bypass_csp = "axe" in request.node.name
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, runtime, key: str | None = None) -> None:
    page.goto(runtime.console_url)
    page.get_by_label("Operator key").fill(key or runtime.operator_key)
    page.get_by_role("button", name="Sign in").click()
    if key is None:
        playwright_api.expect(page.get_by_role("navigation", name="Views")).to_be_visible()


def wait_for_view(page, heading: str) -> None:
    # The address changes at once but the router draws the view a task later: until its heading shows, a
    # label such as "Business line" still finds the previous view's field.
    playwright_api.expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def open_view(page, link: str) -> None:
    # Each navigation link is named as its view's heading.
    page.get_by_role("link", name=link).click()
    wait_for_view(page, link)


def test_nothing_shows_without_sign_in_and_a_wrong_key_is_refused(runtime, page):
    # When someone opens the console without signing in
    page.goto(runtime.console_url + "#/materials")
    # Then they see the sign-in form and no material, thumbnail or navigation
    playwright_api.expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.locator("article.material").count() == 0 and page.locator("img").count() == 0
    assert page.get_by_role("navigation", name="Views").is_hidden()
    # When they try a wrong key, the API's refusal is shown and they stay signed out
    sign_in(page, runtime, key="not-the-key")
    playwright_api.expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")
    screenshot(page, "sign-in-refused")
    assert page.evaluate("sessionStorage.length") == 0


def test_materials_show_thumbnails_reasons_and_tags_can_be_changed(runtime, page):
    # When the operator signs in with the printed key and filters the materials to the test line
    sign_in(page, runtime)
    page.get_by_label("Business line").fill(LINE)
    page.get_by_role("button", name="Filter").click()
    photo = page.locator("article.material", has_text="cats/chelsea.png")
    bomb = page.locator("article.material", has_text="cats/bomb.png")
    # Then the admitted photo shows its thumbnail (a signed URL of its served rendition, loaded)
    thumbnail = photo.get_by_role("img")
    playwright_api.expect(thumbnail).to_have_attribute("alt", "cats image (served)")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    # And the rejected bomb says why, and its upload is never handed to the browser to decode
    playwright_api.expect(bomb.locator(".status")).to_have_text("REJECTED")
    playwright_api.expect(bomb.locator(".thumb")).to_contain_text("no image that is safe to show")
    assert bomb.locator("img").count() == 0
    playwright_api.expect(bomb.locator(".reasons")).to_contain_text("too_many_pixels")
    screenshot(page, "materials")

    # When the operator adds a tag the photo does not carry yet, then removes it
    vocabulary = requests.get(
        runtime.api_url + "v1/tags", headers={"Authorization": f"Bearer {runtime.operator_key}"}, timeout=30
    ).json()["items"]
    carried = set(photo.locator("li.tag").evaluate_all("tags => tags.map(t => t.dataset.tag)"))
    tag = next(t["tag"] for t in vocabulary if t["tag"] not in carried)
    photo.get_by_label("Tag to add").fill(tag)
    photo.get_by_role("button", name="Add tag").dblclick()  # an impatient double click
    added = photo.locator(f'li.tag[data-tag="{tag}"]')
    # Then it shows as the operator's tag, recorded once
    playwright_api.expect(added).to_contain_text("operator")
    material_id = photo.get_attribute("data-material-id")
    stored = requests.get(
        f"{runtime.api_url}v1/materials/{material_id}",
        headers={"Authorization": f"Bearer {runtime.operator_key}"},
        timeout=30,
    ).json()
    assert [label["tag"] for label in stored["tag_labels"]].count(tag) == 1
    screenshot(page, "tag-added")
    added.get_by_role("button", name=f"Remove tag {tag}").click()
    playwright_api.expect(added).to_have_count(0)

    # When the operator filters the line by one of the photo's model tags (the tag index)
    model_tag = sorted(carried)[0]
    page.get_by_label("Tag", exact=True).fill(model_tag)
    page.get_by_role("button", name="Filter").click()
    # Then the photo is listed and the rejected bomb (in no index) is not
    playwright_api.expect(page.locator("article.material", has_text="cats/chelsea.png")).to_have_count(1)
    playwright_api.expect(page.locator("article.material", has_text="cats/bomb.png")).to_have_count(0)


def test_a_filter_form_still_on_screen_filters_its_own_view(runtime, page):
    sign_in(page, runtime)
    for link, path in (("Materials", "#/materials"), ("Review queue", "#/review")):
        open_view(page, link)
        # Given the address already names another view whose router has not run (a link just clicked)
        page.evaluate("history.replaceState(null, '', '#/creatives')")
        # When the operator filters with the form still on screen
        page.get_by_label("Business line").fill(LINE)
        page.get_by_role("button", name="Filter").click()
        # Then the filters go to the form's own view, not to the view the address named
        playwright_api.expect(page).to_have_url(re.compile(re.escape(f"{path}?business_line={LINE}") + "$"))
        wait_for_view(page, link)


def test_an_operator_uploads_a_photo_sees_it_admitted_with_tags_and_rejects_it(runtime, page):
    # When the operator uploads a photo from the browser
    sign_in(page, runtime)
    open_view(page, "Upload")
    page.get_by_label("Business line").fill(LINE)
    page.get_by_label("Category").fill("coffee")
    page.get_by_label("Files").set_input_files(
        files=[{"name": "coffee.jpg", "mimeType": "image/jpeg", "buffer": image_files.jpeg_of("coffee.png")}]
    )
    page.get_by_role("button", name="Upload").click()
    # Then the upload completes and the page shows what admission decided
    row = page.locator(".upload", has_text="coffee.jpg")
    playwright_api.expect(row.locator(".upload-state")).to_have_text("admission: ADMITTED")
    assert row.get_by_role("progressbar").get_attribute("value") == "100"
    # And its card shows the tags tagging gave it, with their source
    card = row.locator("article.material")
    assert card.locator("li.tag").count() > 0
    playwright_api.expect(card.locator("li.tag").first).to_contain_text("model:")
    screenshot(page, "uploaded")
    # When the operator rejects it with a comment
    card.get_by_label("Comment on").fill("a competitor's cup in the corner")
    card.get_by_role("button", name="Reject").click()
    # Then it is rejected, the comment is its reason, and the audit trail names the decision
    playwright_api.expect(card.locator(".status")).to_have_text("REJECTED")
    playwright_api.expect(card.locator(".reasons")).to_contain_text("a competitor's cup in the corner")
    playwright_api.expect(card.locator("details summary")).to_have_text("1 decision(s)")
    screenshot(page, "rejected-with-comment")


def test_an_upload_past_the_cap_shows_the_apis_reason(runtime, page):
    sign_in(page, runtime)
    page.goto(runtime.console_url + "#/upload")
    wait_for_view(page, "Upload")
    page.get_by_label("Business line").fill(LINE)
    page.get_by_label("Category").fill("coffee")
    page.get_by_label("Files").set_input_files(
        files=[
            {"name": "huge.png", "mimeType": "image/png", "buffer": b"\x89PNG" + b"0" * (11 * 1024 * 1024)}
        ]
    )
    page.get_by_role("button", name="Upload").click()
    playwright_api.expect(page.locator(".upload", has_text="huge.png")).to_contain_text("too_large")


def test_the_demo_report_draws_its_charts_from_disk(page, tmp_path):
    from tests.unit.test_demo_report import SUMMARY

    # Given a report written as `make demo` writes it
    racer = [0.02 + i / 40_000 for i in range(1000)]
    written = report.write(
        tmp_path / "report.html", SUMMARY, report.timeline(racer, [0.03] * 1000, [0.06] * 1000)
    )
    # When it is opened from disk, with no server
    page.goto(written.as_uri())
    # Then its six charts are drawn, with the racer's line, the rejection and recall strategy bars
    playwright_api.expect(page.locator("svg.chart")).to_have_count(6)
    assert page.locator("#ctr svg path").count() == 2
    assert page.locator("#rejections svg rect").count() == 2
    assert page.locator("#recall svg rect").count() == 3
    # And the labels by asset are a table per slot
    playwright_api.expect(page.get_by_role("cell", name="creative", exact=True)).to_be_visible()
    screenshot(page, "demo-report")


def test_creatives_show_posterior_intervals_and_can_be_disabled_and_enabled(runtime, page):
    # When the operator opens the creatives of the test line
    sign_in(page, runtime)
    open_view(page, "Creatives")
    page.get_by_label("Business line").fill(LINE)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.creatives tbody tr")
    # Then each composed creative is listed with its image, counters and posterior, under an interval chart
    playwright_api.expect(rows).to_have_count(2)  # one photo x two copy lines
    playwright_api.expect(page.locator("svg.chart circle")).to_have_count(2)
    first = rows.first
    playwright_api.expect(first.locator(".status")).to_have_text("ACTIVE")
    playwright_api.expect(first.get_by_role("img")).to_have_count(1)
    # When the operator disables it, Then it shows disabled; enabling it again restores it
    first.get_by_role("button", name="Disable").click()
    playwright_api.expect(first.locator(".status")).to_have_text("DISABLED")
    screenshot(page, "creatives")
    first.get_by_role("button", name="Enable").click()
    playwright_api.expect(first.locator(".status")).to_have_text("ACTIVE")


def test_review_racing_and_generation_views_show_what_they_have(runtime, page):
    sign_in(page, runtime)
    # The review queue lists only materials waiting for review, or says nothing waits
    page.get_by_role("link", name="Review queue").click()
    playwright_api.expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    page.wait_for_selector("article.material, .empty")
    statuses = page.locator("article.material .status").all_inner_texts()
    assert all(status == "NEEDS_REVIEW" for status in statuses)
    if not statuses:
        playwright_api.expect(page.get_by_text("Nothing waits for review.")).to_be_visible()
    # Given some traffic on the line: selects, and a click on the first
    served = [_select(runtime, "feed") for _ in range(6)]
    requests.post(
        runtime.api_url + "v1/feedback",
        json={"impression_id": served[0]["impression_id"], "event": "click"},
        headers={"x-api-key": runtime.api_key},
        timeout=30,
    ).raise_for_status()
    # Racing shows the line's objective and totals, the model select serves and the retraining run
    page.get_by_role("link", name="Racing").click()
    line = page.locator("table.racing tbody tr", has_text=LINE)
    playwright_api.expect(line).to_contain_text("ctr")
    playwright_api.expect(page.locator(".active-model")).to_contain_text("constant prior")
    playwright_api.expect(page.locator("table.runs tbody tr").first).to_contain_text("insufficient_data")
    # And the line's CTR over time: the racer against the uniform estimate, with the model version serving
    timeline = page.locator(f'section.timeline[data-business-line="{LINE}"]')
    chart = timeline.locator("svg.chart").first
    playwright_api.expect(chart).to_be_visible()
    playwright_api.expect(chart.locator("text.legend")).to_have_text(
        ["racer (observed CTR)", "uniform (IPS estimate)"]
    )
    assert chart.locator("circle.dot").count() >= 2  # the hour with traffic, on both lines
    playwright_api.expect(timeline.locator(".timeline-summary")).to_contain_text(
        re.compile(r"racer [\d.]+% over \d+ impressions")
    )
    playwright_api.expect(timeline.locator(".timeline-summary")).to_contain_text("(an estimate)")
    playwright_api.expect(timeline.locator(".timeline-summary")).to_contain_text(
        re.compile(r"exploration floor drew about [\d.]+% of the choices")
    )
    playwright_api.expect(timeline.locator(".model-versions")).to_contain_text("constant")
    timeline.scroll_into_view_if_needed()
    screenshot(page, "racing")
    # The creatives view draws the clicked creative's posterior CTR over time, with its interval as a band
    clicked = served[0]["creative"]["creative_id"]
    page.goto(f"{runtime.console_url}#/creatives?business_line={LINE}")
    page.get_by_label("Creative", exact=True).select_option(clicked)
    page.get_by_role("button", name="Show over time").click()
    posterior = page.locator(".posterior-over-time")
    playwright_api.expect(posterior.locator("svg.chart")).to_be_visible()
    playwright_api.expect(posterior.locator("svg.chart polygon.band")).to_have_count(1)
    playwright_api.expect(posterior.locator(".posterior-summary")).to_contain_text("90% interval")
    playwright_api.expect(posterior.locator(".posterior-summary")).to_contain_text(
        re.compile(r"[1-9]\d* clicks")
    )
    screenshot(page, "creative-posterior")
    # Generation lists the line's generated copy, or says how to get some, and points to the review queue
    page.goto(f"{runtime.console_url}#/generation?business_line={LINE}")
    playwright_api.expect(page.get_by_text("No generated copy for this line yet.")).to_be_visible()
    playwright_api.expect(page.locator("main").get_by_role("link", name="review queue")).to_have_attribute(
        "href", f"#/review?business_line={LINE}&kind=copy"
    )
    # Given the line reviews generated copy, and a file of it as generate_copy names its uploads
    policy = {"overrides": {"review_generated_copy": True}}
    _operator_api(runtime, "PUT", f"v1/quality-policy/{LINE}", json=policy).raise_for_status()
    runtime.client("s3").put_object(
        Bucket=runtime.outputs["UploadsBucketName"],
        Key=f"uploads/{LINE}/cats/generated-20261130T12.txt",
        Body=b"Warm naps for every whisker\n",
    )
    runtime.drain_queues(timeout=60)
    # Then the view lists it, waiting for review with its reason, and says the line's policy sends it there
    page.reload()
    row = page.locator("table.generated tbody tr")
    playwright_api.expect(row).to_have_count(1)
    playwright_api.expect(row.locator(".status")).to_have_text("NEEDS_REVIEW")
    playwright_api.expect(row).to_contain_text("generated_copy_review")
    playwright_api.expect(page.locator(".policy")).to_contain_text("sends generated copy to the review queue")
    screenshot(page, "generation")


def _operator_api(runtime, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method,
        runtime.api_url + path,
        headers={"Authorization": f"Bearer {runtime.operator_key}"},
        timeout=30,
        **kwargs,
    )


def _select(runtime, placement: str) -> dict:
    request = {"business_line": LINE, "placement": placement, "user": {"id": "console-user"}}
    answer = requests.post(
        runtime.api_url + "v1/select", json=request, headers={"x-api-key": runtime.api_key}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()


def test_a_phrase_bank_is_saved_its_preview_fills_the_slots_and_a_bad_slot_is_refused(runtime, page):
    # When the operator writes two phrases for the test line and saves them
    sign_in(page, runtime)
    page.goto(f"{runtime.console_url}#/phrase-banks?business_line={LINE}")
    page.get_by_label("Phrase 1 text").fill("Only {price} in {city}")
    page.get_by_role("button", name="Add phrase").click()
    page.get_by_label("Phrase 2 text").fill("{discount} off {product}")
    page.get_by_label("Phrase 2 slot").select_option("cta")
    page.get_by_role("button", name="Save phrases").dblclick()  # an impatient double click
    # Then the bank is stored once, as version 1
    playwright_api.expect(page.locator("table.phrases caption")).to_contain_text("2 phrase(s), version 1")
    assert _operator_api(runtime, "GET", f"v1/phrase-banks/{LINE}").json()["version"] == 1
    # When they type a product's price and city, Then the preview fills the slots it can, and says why not
    page.get_by_label("Price").fill("12.5")
    page.get_by_label("City").fill("Lisbon")
    preview = page.locator("table.phrase-preview tbody tr")
    playwright_api.expect(preview.filter(has_text="Only {price}")).to_contain_text("Only $12.50 in Lisbon")
    playwright_api.expect(preview.filter(has_text="Only {price}").locator(".serves")).to_have_text("yes")
    playwright_api.expect(preview.filter(has_text="{discount} off")).to_contain_text(
        "no: no value for {discount}, {product}"
    )
    page.get_by_label("Discount %").fill("20")
    page.get_by_label("Product name").fill("Cat bed")
    playwright_api.expect(preview.filter(has_text="{discount} off")).to_contain_text("20% off Cat bed")
    screenshot(page, "phrase-bank")
    # When they add a phrase with a slot that does not exist, Then the API's reason shows and nothing is stored
    page.get_by_role("button", name="Add phrase").click()
    page.get_by_label("Phrase 3 text").fill("Win a {prize}")
    page.get_by_role("button", name="Save phrases").click()
    playwright_api.expect(page.get_by_role("alert")).to_contain_text("unknown slot '{prize}'")
    screenshot(page, "phrase-bank-refused")
    assert _operator_api(runtime, "GET", f"v1/phrase-banks/{LINE}").json()["version"] == 1


def test_a_template_switches_to_elements_previews_its_slots_and_a_stale_save_says_reload(runtime, page):
    # Given a line of its own (the other tests' line keeps racing creatives) with a phrase and a CTA
    line = "console-templates"
    bank = {
        "expected_version": 0,
        "phrases": [
            {"slot": "phrase", "text": "Only {price} in {city}"},
            {"slot": "cta", "text": "{discount} off"},
        ],
    }
    _operator_api(runtime, "PUT", f"v1/phrase-banks/{line}", json=bank).raise_for_status()
    # When the operator opens its template, Then it is the default, racing composed creatives
    sign_in(page, runtime)
    page.goto(f"{runtime.console_url}#/templates?business_line={line}")
    version = page.locator(".template-version")
    playwright_api.expect(version).to_contain_text("Version 0: never saved; the line races creatives")
    playwright_api.expect(page.get_by_role("radio", name="Creatives")).to_be_checked()

    def filled(placement: str, slot: str):
        return page.locator(f'table[data-placement="{placement}"] tr[data-slot="{slot}"] .filled')

    playwright_api.expect(filled("home_feed", "image")).to_contain_text("chosen per creative")
    # When they type a sample product, Then each placement's phrase slots show what the bank fills them with
    page.get_by_label("Price").fill("12.5")
    page.get_by_label("City").fill("Lisbon")
    playwright_api.expect(filled("home_feed", "phrase").locator("li")).to_have_text("Only $12.50 in Lisbon")
    playwright_api.expect(filled("home_feed", "cta")).to_contain_text(
        "left empty: none of the bank's 1 for this slot serves (no value for {discount})"
    )
    playwright_api.expect(filled("story", "phrase").locator("li")).to_have_text("Only $12.50 in Lisbon")
    # When they switch to elements, Then the preview says images and headlines are chosen per element
    page.get_by_role("radio", name="Elements").check()
    playwright_api.expect(filled("home_feed", "headline")).to_contain_text("chosen per element")
    # And when they save (an impatient double click), Then the template is stored once, as version 1
    page.get_by_role("button", name="Save template").dblclick()
    playwright_api.expect(version).to_contain_text("Version 1, racing elements, saved by")
    stored = _operator_api(runtime, "GET", f"v1/templates/{line}").json()
    assert (stored["version"], stored["racing"]) == (1, "elements")
    playwright_api.expect(page.get_by_role("alert")).to_have_count(0)
    screenshot(page, "templates")
    # When someone saves the template behind the console's back and the operator then saves what they read
    change = {"expected_version": 1, "racing": "creatives"}
    _operator_api(runtime, "PUT", f"v1/templates/{line}", json=change).raise_for_status()
    page.get_by_role("button", name="Save template").click()
    # Then the API's reason shows, with what to do, and nothing changes
    playwright_api.expect(page.get_by_role("alert")).to_contain_text("version_conflict, HTTP 409")
    playwright_api.expect(page.get_by_role("alert")).to_contain_text("Reload to see the current template")
    screenshot(page, "templates-conflict")
    assert _operator_api(runtime, "GET", f"v1/templates/{line}").json()["version"] == 2
    # And reloading shows the version saved behind its back
    page.get_by_role("button", name="Reload template").click()
    playwright_api.expect(version).to_contain_text("Version 2, racing creatives")
    playwright_api.expect(page.get_by_role("radio", name="Creatives")).to_be_checked()


def test_a_pinned_creative_is_served_by_the_pin_and_a_pin_on_a_disabled_creative_is_refused(runtime, page):
    # Given the line's two creatives, the second disabled
    creatives = _operator_api(runtime, "GET", "v1/creatives", params={"business_line": LINE}).json()["items"]
    active, disabled = creatives[0]["creative_id"], creatives[1]["creative_id"]
    _operator_api(
        runtime, "PATCH", f"v1/creatives/{disabled}", json={"status": "DISABLED"}
    ).raise_for_status()
    try:
        # When the operator pins the active one on the home feed and saves
        sign_in(page, runtime)
        page.goto(f"{runtime.console_url}#/recall?business_line={LINE}")
        page.get_by_role("button", name="Add pin").click()
        page.get_by_label("Rule 1 creative").select_option(active)
        page.locator("tr.rule").first.get_by_role("checkbox", name="home_feed").check()
        page.get_by_role("button", name="Save rules").click()
        # Then the rule is stored, version 1, on that placement
        playwright_api.expect(page.locator("table.rules caption")).to_contain_text("1 rule(s), version 1")
        stored = _operator_api(runtime, "GET", f"v1/recall-rules/{LINE}").json()
        assert [(p["creative_id"], p["placements"]) for p in stored["pins"]] == [(active, ["home_feed"])]
        # And select honours it (once its per-container cache has expired): on the home feed the creative
        # comes from the pin strategy, on a placement the pin does not name it does not
        # (its TTL, or ten times its last read on a loaded machine's moto)
        served = poll(
            lambda: {placement: _select(runtime, placement) for placement in ("home_feed", "feed")},
            lambda served: "pin" in served["home_feed"]["recall"],
            first_after=SelectConfig.model_fields["cache_ttl_seconds"].default + 0.2,
        )
        assert served["home_feed"]["creative"]["creative_id"] == active
        assert "pin" in served["home_feed"]["recall"] and "pin" not in served["feed"]["recall"]
        # When they also pin the disabled creative, Then the API's reason shows and nothing changes
        page.get_by_role("button", name="Add pin").click()
        page.get_by_label("Rule 2 creative").select_option(disabled)
        page.get_by_role("button", name="Save rules").click()
        playwright_api.expect(page.get_by_role("alert")).to_contain_text("is DISABLED; enable it first")
        playwright_api.expect(page.get_by_role("alert")).to_contain_text("creative_not_active")
        screenshot(page, "recall-pin-refused")
        assert _operator_api(runtime, "GET", f"v1/recall-rules/{LINE}").json()["version"] == 1
    finally:
        _operator_api(runtime, "PATCH", f"v1/creatives/{disabled}", json={"status": "ACTIVE"})


def test_labels_list_the_lines_assets_per_slot_with_their_label_and_why(runtime, page):
    # Given one creative of the line has been served (the others may not have been)
    served = _select(runtime, "feed")["creative"]["creative_id"]
    sign_in(page, runtime)
    page.goto(f"{runtime.console_url}#/labels?business_line={LINE}")
    # Then each slot has a table: two creatives, one image, two headlines
    creatives = page.locator('section[data-slot="creative"] tbody tr')
    playwright_api.expect(creatives).to_have_count(2)
    playwright_api.expect(page.locator('section[data-slot="image"] tbody tr')).to_have_count(1)
    playwright_api.expect(page.locator('section[data-slot="headline"] tbody tr')).to_have_count(2)
    # And the served creative is LEARNING, with how many impressions a label needs; none is past LEARNING
    row = page.locator(f'section[data-slot="creative"] tr[data-asset-id="{served}"]')
    playwright_api.expect(row.locator(".label")).to_have_text("LEARNING")
    playwright_api.expect(row.locator("td.why")).to_contain_text("impressions a label needs")
    labels = set(page.locator("section.slot-labels tbody .label").all_inner_texts())
    assert labels <= {"PENDING", "LEARNING"}, labels
    screenshot(page, "labels")


@pytest.mark.parametrize(
    "view",
    [
        "sign-in",
        "materials",
        "review",
        "upload",
        "creatives",
        "racing",
        "phrase-banks",
        "templates",
        "recall",
        "labels",
        "generation",
    ],
)
def test_axe_finds_no_serious_accessibility_violation(runtime, page, view):
    if not AXE_CORE_JS.is_file():
        pytest.skip(
            f"axe-core is not installed at {AXE_CORE_JS}: run `python -m browser_tools` (make browser)"
        )
    if view == "sign-in":
        page.goto(runtime.console_url)
        page.get_by_label("Operator key").wait_for()
    else:
        sign_in(page, runtime)
        page.goto(f"{runtime.console_url}#/{view}?business_line={LINE}")
        page.wait_for_selector("main h1")
        page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE_CORE_JS))
    result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    serious = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious


def test_an_expired_sign_in_returns_to_sign_in_without_losing_what_was_typed(runtime, page):
    # Given an operator writing a comment on the rejected bomb
    sign_in(page, runtime)
    page.get_by_label("Business line").fill(LINE)
    page.get_by_role("button", name="Filter").click()
    bomb = page.locator("article.material", has_text="cats/bomb.png")
    bomb.get_by_label("Comment on").fill("still a bomb, keep it out")
    # When their sign-in is no longer accepted (expired) and they press Admit
    page.evaluate(
        "sessionStorage.setItem('creative-engine.sign-in', JSON.stringify({mode: 'key', key: 'expired'}))"
    )
    bomb.get_by_role("button", name="Admit").click()
    # Then they are back at the sign-in form, told why
    playwright_api.expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    playwright_api.expect(page.locator("#toast")).to_contain_text("sign in again")
    # And after signing in again, the same view holds what they typed, and nothing was decided
    page.get_by_label("Operator key").fill(runtime.operator_key)
    page.get_by_role("button", name="Sign in").click()
    playwright_api.expect(bomb.get_by_label("Comment on")).to_have_value("still a bomb, keep it out")
    playwright_api.expect(bomb.locator(".status")).to_have_text("REJECTED")


def test_on_aws_the_console_signs_in_to_cognito_and_sends_the_id_token(runtime, browser):
    # (Cognito is not in moto: its endpoint and the API are answered here, as AWS would answer them.)
    context = browser.new_context(bypass_csp=True)  # the local CSP names no Cognito endpoint
    page = context.new_page()
    seen: list[str] = []
    page.route(
        "**/console/config.json",
        lambda route: route.fulfill(
            json={"api_base": "/prod/", "auth": {"mode": "cognito", "region": "eu-west-1", "client_id": "c1"}}
        ),
    )

    def cognito(route):
        body = route.request.post_data_json
        assert route.request.headers["x-amz-target"] == "AWSCognitoIdentityProviderService.InitiateAuth"
        assert body == {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": "c1",
            "AuthParameters": {"USERNAME": "ana@example.com", "PASSWORD": "correct horse"},
        }
        route.fulfill(json={"AuthenticationResult": {"IdToken": "id-token-1", "ExpiresIn": 3600}})

    def operator_api(route):  # every operator call (materials, the tag vocabulary) answers empty
        seen.append(route.request.headers.get("authorization", ""))
        route.fulfill(json={"items": [], "next_token": None, "version": "t"})

    page.route("https://cognito-idp.eu-west-1.amazonaws.com/", cognito)
    page.route("**/prod/v1/**", operator_api)
    # When an operator signs in with their user name and password
    page.goto(runtime.console_url)
    page.get_by_label("User name").fill("ana@example.com")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    # Then the console shows the (empty) materials, having sent the ID token, not a key
    playwright_api.expect(page.get_by_text("No materials match.")).to_be_visible()
    assert seen and set(seen) == {"id-token-1"}
    context.close()
