"""`baton report`: the standalone HTML handoff report (in real Chromium) and the model card."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from _handoff import full_handoff, variant
from sklearn.linear_model import LogisticRegression

import modelbaton

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic"]

PROFILE = {"features": {
    "sepal_length": {"edges": [4.3, 5.1, 5.8, 6.4, 7.9], "counts": [41, 39, 35, 35],
                     "min": 4.3, "max": 7.9, "mean": 5.84, "std": 0.83, "missing": 0},
    "petal_width": {"edges": [0.1, 0.3, 1.3, 1.8, 2.5], "counts": [41, 37, 36, 36],
                    "min": 0.1, "max": 2.5, "mean": 1.2, "std": 0.76, "missing": 0},
    "greenhouse": {"frequencies": {"north": 80, "south": 50, "east": 20}},
    "broken": {"edges": [0, 1], "counts": [1, 2, 3]},  # malformed: skipped, not fatal
}}


@pytest.fixture(scope="module")
def package(tmp_path_factory, iris):
    X, y = iris
    folder = tmp_path_factory.mktemp("report")
    plain = modelbaton.pack(LogisticRegression(max_iter=1000).fit(X, y), folder / "plain",
                            sample_input=X, name="iris", version="1.0",
                            training_data=X.assign(species=y), handoff=full_handoff())

    def with_profile(m):
        m.data.reference = "data/reference.json"

    return variant(plain, folder / "iris-1.0", with_profile,
                   files={"data/reference.json": json.dumps(PROFILE)})


@pytest.fixture(scope="module")
def report_file(package, tmp_path_factory):
    from modelbaton.cli.main import run

    path = tmp_path_factory.mktemp("out") / "iris.html"
    assert run(["report", str(package), "--output", str(path)]) == 0
    return path


def test_report_follows_the_reading_order(report_file):
    html = report_file.read_text()
    headings = re.findall(r"<h2><span class=\"n\">\d</span>([^<]+)</h2>", html)
    assert headings == ["What it does and for whom", "How to call it", "How it behaves",
                        "Where it breaks", "Where the data came from",
                        "How to keep it healthy", "Checklist status", "Decision log",
                        "Glossary"]
    assert "Classifies iris flowers" in html
    assert "share of flowers sorted into the right bin" in html  # business meaning
    assert "model.predict_table([{" in html  # an example request from the golden rows
    assert "BTN221 golden-reproduces" in html.replace("</code> ", " ").replace("<code>", "")
    assert "not run by `baton report`" in html  # no receipt: the replay is left to check
    assert "Head of horticulture" in html and "logistic regression over a forest" in html


def test_report_is_standalone(report_file):
    html = report_file.read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # only the SVG namespace, never fetched
    assert not re.search(r"\bsrc=", html)


def test_charts_render_metrics_latency_and_the_reference_profile(report_file):
    html = report_file.read_text()
    titles = re.findall(r"<svg[^>]*><title>([^<]+)</title>", html)
    assert "Metrics against their acceptance thresholds" in titles
    assert "Single-row latency percentiles against the budgets" in titles
    assert "Distribution of sepal_length in the training data" in titles
    assert "Distribution of petal_width in the training data" in titles
    assert "Most frequent values of greenhouse in the training data" in titles
    assert not any("broken" in t for t in titles)
    # The metric meets its threshold: its bar is drawn green ("good").
    metrics_svg = html[html.index("Metrics against"):].split("</svg>")[0]
    assert 'class="good"' in metrics_svg and 'class="bad"' not in metrics_svg


def test_report_without_profile_or_with_a_broken_one(tmp_path, package, cli):
    def no_profile(m):
        m.data.reference = None

    def broken(m):
        m.data.reference = "data/reference.json"

    plain = variant(package, tmp_path / "a", no_profile, files={"data/reference.json": None})
    assert cli("report", plain, "-o", tmp_path / "a.html").code == 0
    assert "has no reference profile" in (tmp_path / "a.html").read_text()

    bad = variant(package, tmp_path / "b", broken, files={"data/reference.json": "{not json"})
    assert cli("report", bad, "-o", tmp_path / "b.html").code == 0
    assert "cannot be read" in (tmp_path / "b.html").read_text()


def test_report_uses_the_check_receipt_for_this_digest(tmp_path, package, cli):
    pkg = variant(package, tmp_path / "pkg")
    assert cli("check", pkg).code == 0  # records a receipt
    assert cli("report", pkg, "-o", tmp_path / "r.html").code == 0
    html = (tmp_path / "r.html").read_text()
    assert "Source: check receipt of" in html and "by tester" in html
    assert "not run by `baton report`" not in html
    assert re.search(r"<td>check</td><td><span class=\"ok\">passed</span>", html)


def test_report_shows_the_gaps_of_an_unfinished_handoff(tmp_path, package, cli):
    def unfinished(m):
        m.owners = None
        m.rollback = None
        m.description = "TODO: what the model does and for whom"
        m.evaluation.metrics[0].value = 0.5

    pkg = variant(package, tmp_path / "pkg", unfinished)
    assert cli("report", pkg, "-o", tmp_path / "r.html").code == 0
    html = (tmp_path / "r.html").read_text()
    assert "not ready for handoff" in html
    assert '<span class="empty">TODO: what the model does and for whom</span>' in html
    assert html.count('<span class="empty">not written</span>') >= 10  # owners, rollback
    assert "nobody is named for training" in html  # the failing rule's finding
    metrics_svg = html[html.index("Metrics against"):].split("</svg>")[0]
    assert 'class="bad"' in metrics_svg


def test_model_card_has_hugging_face_metadata(package, cli):
    result = cli("report", package, "--format", "markdown", "--output", "-",
                 "--license", "apache-2.0")
    assert result.code == 0
    _, header, body = result.out.split("---\n", 2)
    meta = yaml.safe_load(header)
    assert meta["license"] == "apache-2.0"
    assert meta["library_name"] == "sklearn"
    assert meta["pipeline_tag"] == "tabular-classification"
    assert "baton" in meta["tags"] and meta["datasets"] == ["training"]
    assert meta["metrics"] == ["accuracy"]
    result_entry = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == "iris"
    assert result_entry["task"]["type"] == "tabular-classification"
    assert result_entry["dataset"]["name"] == "training"
    assert result_entry["metrics"] == [{"type": "accuracy", "value": 0.96, "name": "accuracy"}]
    assert body.lstrip().startswith("# iris 1.0")
    for heading in ("## Uses", "## Bias, risks, and limitations", "## Training details",
                    "## Evaluation", "## How to get started with the model"):
        assert heading in body


def test_report_bad_input(tmp_path, cli, package):
    assert cli("report", tmp_path / "nope").code == 2
    bad = cli("report", package, "--format", "pdf")
    assert bad.code == 2 and "unknown format 'pdf'" in bad.err
    unwritable = cli("report", package, "-o", tmp_path / "missing-dir" / "r.html")
    assert unwritable.code == 2 and "the folder" in unwritable.err \
        and "missing-dir does not exist" in unwritable.err


def test_report_renders_in_headless_chromium(report_file, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    console, failures, requests = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 900})
        page = browser.new_page()
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.on("pageerror", lambda e: failures.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report_file.as_uri(), wait_until="load")
        assert page.title() == "iris 1.0 — handoff report"
        assert page.locator("section").count() == 9
        assert page.locator("svg").count() >= 5
        # The charts have a real size on screen.
        box = page.locator("#behaves svg").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 20
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert [m for m in console if m[0] in ("error", "warning")] == []
    assert failures == []
    assert requests == [report_file.as_uri()]  # the page itself, and nothing else
    image = Image.open(shot).convert("RGB")
    assert image.height > 2000  # the whole report, not an empty page
    colours = image.getcolors(maxcolors=1 << 16) or []
    assert len(colours) > 50  # text, charts and colours, not a blank page


def test_a_binary_features_histogram_shows_both_values_by_count():
    """Quantile edges of a 0/1 feature repeat (zero-width bins): densities would be infinite,
    so the bars are counts, both visible, in the right proportion."""
    import re

    from modelbaton.report.charts import histogram

    svg = histogram("smoker", [0.0, 0.0, 1.0, 1.0], [700, 0, 300])
    bars = [(float(x), float(w), float(h)) for x, w, h in re.findall(
        r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="([\d.]+)"', svg)]
    heights = [h for _, _, h in bars]
    assert heights[0] > 0 and heights[2] > 0 and heights[1] == 0
    assert abs(heights[0] / heights[2] - 7 / 3) < 0.01
    assert all(w >= 4.0 and 0 <= x <= 220 - w for x, w, _ in bars)
