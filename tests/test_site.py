"""Build the book (smoke parameters, warnings are errors) and open it in Chromium.

The build runs once per session in a temporary folder.  The browser tests
drive Debian's chromium through playwright (no browser download); where no
chromium is installed they skip, saying so, unless QUINEBOOK_REQUIRE_BROWSER=1
(CI sets it), in which case they fail.
"""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
CHAPTERS = tuple(f"notebooks/{p.stem}.html" for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    # For development: QUINEBOOK_BUILT_SITE=<folder given to --path-output> reuses a build made with
    # `QUINEBOOK_SMOKE=1 jupyter-book build . --path-output <folder> -W -n --keep-going > <folder>/build.log 2>&1`.
    reuse = os.environ.get("QUINEBOOK_BUILT_SITE")
    if reuse:
        log = Path(reuse) / "build.log"
        text = log.read_text() if log.is_file() else ""
        return subprocess.CompletedProcess([], 0 if text else 1, text, ""), Path(reuse) / "_build" / "html"
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ, QUINEBOOK_SMOKE="1")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    return proc, out / "_build" / "html"


def test_book_builds_without_warnings(built_site):
    """The build executes every chapter with its smoke parameters (QUINEBOOK_SMOKE=1), and with
    ``allow_errors: false`` and ``-W`` a failing cell, a check that does not hold included, fails it, its
    traceback in the log (``nb_execution_show_tb``): this is the test that every chapter runs at smoke."""
    proc, html = built_site
    log = proc.stdout[-6000:] + proc.stderr[-6000:]
    assert proc.returncode == 0, f"jupyter-book build failed:\n{log}"
    assert "WARNING:" not in proc.stdout + proc.stderr, log  # Sphinx warnings (the kernel logs "WARNING |")
    for page in ("index.html", "book/intro.html", "book/references.html", "book/glossary.html",
                 "_static/plotly.min.js", "_static/mathjax/tex-mml-chtml.js") + CHAPTERS:
        assert (html / page).is_file(), f"{page} missing from the built site"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_glued_numbers_are_in_the_page(built_site, chapter):
    _, html = built_site
    page = (html / chapter).read_text()
    assert "{glue" not in page and "glue:text" not in page, "an unresolved glue role"
    # the build machine's wall time is no verdict for a reader: the closing budget line lives in the notebook only
    assert "ran in" not in page and "reference units" in page, "a timing line in the page, or no budget box"
    assert "google.colab" not in page, "the Colab set-up cell should not be shown in the book"
    # the tables the notebooks print as Markdown are rendered as tables, not left as pipes and dashes
    assert "<table" in page, "no table rendered"
    assert "|\u2014|" not in page, "a Markdown table was left as raw text (its dashes typeset as em dashes)"


def test_budgets_are_substituted_from_the_one_table(built_site):
    """The workshop plan and the notation page quote quinelib.budgets, rendered (no {{ }} left)."""
    from quinelib import budgets

    _, html = built_site
    for page in ("book/workshop.html", "book/notation.html"):
        text = (html / page).read_text()
        assert "{{" not in text and "budget_ch" not in text, f"an unresolved substitution in {page}"
    workshop = (html / "book/workshop.html").read_text()
    for n in budgets.BUDGETS:
        assert f"chapter {n} {budgets.budget_seconds(n):.0f}" in " ".join(workshop.split()), n
    notation = (html / "book/notation.html").read_text()
    assert f"{budgets.BUDGETS[3].default:g} reference units" in notation


@pytest.fixture(scope="session")
def server(built_site):
    _, html = built_site
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    handler = functools.partial(QuietHandler, directory=str(html))

    class QuietServer(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # the browser hangs up early on fonts: fine
            pass

    httpd = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        if os.environ.get("QUINEBOOK_REQUIRE_BROWSER") == "1":
            pytest.fail("QUINEBOOK_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium installed (apt-get install chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def _pages(html):
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


# A link or table inside a closed dropdown (<details>) is not rendered (Chromium 156 gives it no innerText),
# yet a reader who opens the dropdown meets it: tests that look at such content open every dropdown first.
# On a shared page, a script opens them with OPEN_DROPDOWNS_JS and, before it returns, closes again with
# CLOSE_DROPDOWNS_JS the ones it opened, so the page is left as it was.
OPEN_DROPDOWNS_JS = ("const closedDropdowns = [...document.querySelectorAll('details')].filter(d => !d.open);"
                     " closedDropdowns.forEach(d => { d.open = true; });")
CLOSE_DROPDOWNS_JS = "closedDropdowns.forEach(d => { d.open = false; });"


def open_page(browser, url, width=1280):
    """Load a page; return (page, problems) where problems lists JS errors and outside requests."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems = []
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)

    def on_request(req):
        if urlparse(req.url).hostname not in ("127.0.0.1", None) and not req.url.startswith("data:"):
            problems.append(f"outside request: {req.url}")

    page.on("request", on_request)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="networkidle")
    # A long chapter can still be parsing after the network is idle: a figure's caption, which comes after
    # the figure, was not yet in the page.  Wait for the whole document.
    page.wait_for_function("() => document.readyState === 'complete'", timeout=30000)
    # MathJax re-renders parts of the page (cell outputs too): let it finish first.
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.wait_for_timeout(200)
    return page, problems


@pytest.fixture(scope="session")
def loaded(browser):
    """Pages loaded once and shared by the tests that only read them (a chapter takes ~3 s to load and typeset):
    ``loaded(url, width)`` -> (page, problems), problems still collecting.  Tests that change a page (switch the
    theme, open its dropdowns for good) load their own; a test that must look inside the dropdowns of a shared
    page closes again, in the same script, those it opened (``OPEN_DROPDOWNS_JS``, ``CLOSE_DROPDOWNS_JS``)."""
    cache = {}

    def get(url, width=1280):
        if (url, width) not in cache:
            cache[url, width] = open_page(browser, url, width=width)
        return cache[url, width]

    yield get
    for page, _ in cache.values():
        page.close()


def test_every_page_loads_without_errors(built_site, server, browser, loaded):
    _, html = built_site
    pages = _pages(html)
    assert len(pages) >= 5
    failures, transient = {}, {}
    for rel in pages:
        # A page with a problem is loaded a second time: what happens twice fails the test, what went away
        # (a font request cut short on a loaded machine, say) is printed, so that it stays visible.
        for attempt in range(2):
            if attempt == 0:  # the first load is kept for the tests below
                page, problems = loaded(f"{server}/{rel}")
                problems = list(problems)
            else:
                page, problems = open_page(browser, f"{server}/{rel}")
                page.close()
            if not problems:
                break
            (transient if attempt == 0 else failures)[rel] = problems
    for rel, problems in transient.items():
        if rel not in failures:
            print(f"{rel}: problems on the first load, gone on the second: {problems}")
    summary = "; ".join(f"{rel}: {problems}" for rel, problems in failures.items())
    assert not failures, f"pages with problems on two loads: {summary}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_maths_is_typeset(server, loaded, chapter):
    page, problems = loaded(f"{server}/{chapter}")
    page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 20", timeout=20000)
    assert page.locator(".math").count() > 0
    assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
    # no raw TeX left behind in display maths
    assert "\\begin" not in page.locator("mjx-container").first.inner_text()
    assert not problems


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_plotly_figures_are_drawn_and_hover_works(server, loaded, chapter):
    page, problems = loaded(f"{server}/{chapter}")
    page.wait_for_function("() => document.querySelectorAll('.quinebook-plotly .main-svg').length >= 3", timeout=20000)
    figs = page.locator(".quinebook-plotly")
    for i in range(figs.count()):
        assert figs.nth(i).get_attribute("aria-label"), "a plotly figure lacks alt text"
    assert figs.first.locator(".scatterlayer .trace").count() >= 1, "no trace drawn"
    # hover over a marker of the first figure that draws markers (line-only figures have none to aim at)
    with_points = [i for i in range(figs.count()) if figs.nth(i).locator(".scatterlayer .trace .points path").count()]
    assert with_points, "no plotly figure on the page draws markers to hover over"
    first = figs.nth(with_points[0])
    first.scroll_into_view_if_needed()
    point = first.locator(".scatterlayer .trace .points path").first
    point.hover(force=True)
    page.wait_for_timeout(500)
    assert first.locator(".hoverlayer .hovertext").count() >= 1, "hover shows no label"
    assert not problems


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_line_labels_sit_at_their_lines(server, loaded, chapter):
    """A label drawn with a reference line (q.plots.reference_line) is beside its line, on log axes too:
    plotly reads an annotation's position on a log axis in log10 units, which once put "goal: ρ ≤ 0.316"
    beside the ρ = 1 line."""
    page, problems = loaded(f"{server}/{chapter}")
    page.wait_for_function("() => document.querySelectorAll('.quinebook-plotly .main-svg').length >= 1", timeout=20000)
    pairs = page.evaluate("""() => {
        const out = [];
        for (const gd of document.querySelectorAll('.quinebook-plotly .js-plotly-plot')) {
            const L = gd._fullLayout;
            const shapes = (L.shapes || []).filter(s => s.xref === 'x' && s.x0 === s.x1 || s.yref === 'y' && s.y0 === s.y1);
            for (const a of (L.annotations || [])) {
                const vertical = a.xref === 'x' && a.yref === 'paper', horizontal = a.yref === 'y' && a.xref === 'paper';
                if (!vertical && !horizontal) continue;
                const ax = vertical ? L.xaxis : L.yaxis;
                const pos = vertical ? a.x : a.y;  // in the axis's own units (log10 on a log axis)
                const value = ax.type === 'log' ? Math.pow(10, pos) : pos;
                const line = shapes.find(s => vertical ? s.xref === 'x' && Math.abs(s.x0 - value) <= 1e-9 * Math.abs(value) + 1e-12
                                                       : s.yref === 'y' && Math.abs(s.y0 - value) <= 1e-9 * Math.abs(value) + 1e-12);
                out.push({text: a.text, found: !!line, value});
            }
        }
        return out;
    }""")
    for p in pairs:
        assert p["found"], f"the label {p['text']!r} sits at {p['value']:.4g}, where no reference line is (a log-axis slip?)"
    if chapter.endswith("04_auxiliary_quine.html"):
        assert any("goal" in p["text"] for p in pairs) and any("predict zero" in p["text"] for p in pairs), pairs
    assert not problems


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_code_or_output_block_scrolls_sideways(server, loaded, chapter):
    """At 1280 px every line of code and of printed output is readable without scrolling sideways."""
    page, problems = loaded(f"{server}/{chapter}", width=1280)
    wide = page.evaluate("""() => [...document.querySelectorAll('div.cell_input pre, div.cell_output pre')]
        .filter(el => el.scrollWidth > el.clientWidth + 1)
        .map(el => el.innerText.split('\\n').reduce((a, b) => a.length > b.length ? a : b).slice(0, 80))""")
    assert not wide, f"{len(wide)} blocks scroll sideways, e.g. {wide[:3]}"
    # tables printed by a cell (the bench's too, opened from their dropdowns) show their last column
    tables = page.evaluate("""() => { """ + OPEN_DROPDOWNS_JS + """
        const wide = [...document.querySelectorAll('div.cell_output table')]
            .filter(t => t.scrollWidth > t.clientWidth + 1)
            .map(t => `${t.scrollWidth} px in ${t.clientWidth}: ` + t.querySelector('tr').innerText.slice(0, 80));
        """ + CLOSE_DROPDOWNS_JS + """ return wide; }""")
    assert not tables, f"tables wider than the column at 1280 px: {tables[:3]}"
    assert not problems


MATHS_CLEARANCE_JS = """() => [...document.querySelectorAll('mjx-container[display="true"]')].map(box => {
    // box scrolls (overflow: auto), so whatever of a glyph lies outside it is cut off: a transpose sign
    // touching the top edge was drawn as a stroke.  Compare the characters' boxes with the box's own.
    const b = box.getBoundingClientRect();
    const cs = [...box.querySelectorAll('mjx-c')].map(c => c.getBoundingClientRect()).filter(r => r.height > 0);
    if (!cs.length) return null;
    return {tex: (box.textContent || '').slice(0, 40), above: Math.min(...cs.map(r => r.top)) - b.top,
            below: b.bottom - Math.max(...cs.map(r => r.bottom)), scrolls: box.scrollWidth > box.clientWidth + 1};
}).filter(x => x)"""


@pytest.mark.parametrize("width", (1280, 390))
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_display_maths_is_not_clipped(server, loaded, chapter, width):
    """Every display equation has room above and below its characters inside its scroll box (2 px at least;
    0 px once cut chapter 2's transpose to a stroke) and, at 1280 px, fits the column without scrolling
    (chapter 4's loss equation once ran off the right edge).  On a phone a wide equation may scroll."""
    page, problems = loaded(f"{server}/{chapter}", width=width)
    page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 20", timeout=20000)
    boxes = page.evaluate(MATHS_CLEARANCE_JS)
    assert len(boxes) >= 3, "too few display equations found: is MathJax running?"
    tight = [(b["tex"], round(b["above"], 1), round(b["below"], 1)) for b in boxes if min(b["above"], b["below"]) < 2]
    assert not tight, f"display maths touching its box's edge (clipped): {tight[:4]}"
    if width == 1280:
        wide = [b["tex"] for b in boxes if b["scrolls"]]
        assert not wide, f"display maths wider than the column at 1280 px: {wide[:4]}"
    assert not problems


FIGURES_JS = """() => [...document.querySelectorAll('.cell_output .quinebook-plotly, .cell_output img')]
    .filter(el => !el.closest('.tag_solution'))  // a figure inside a hidden solution is part of the answer
    .map(el => {
        const fig = el.closest('figure');
        const number = fig && fig.querySelector('figcaption .caption-number');
        return {what: el.getAttribute('aria-label') || el.getAttribute('alt') || el.tagName,
                number: number ? number.textContent.trim() : null,
                caption: fig && fig.querySelector('figcaption') ? fig.querySelector('figcaption').innerText.trim() : ''};
    })"""


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_figure_has_a_numbered_caption(server, loaded, chapter):
    """Plotly and matplotlib figures alike sit in a numbered figure ("Fig. 3.2") with a caption under it
    (the cell's mystnb.figure metadata); the numbers follow the chapter's."""
    page, problems = loaded(f"{server}/{chapter}")
    page.wait_for_function("() => document.querySelectorAll('.quinebook-plotly .main-svg').length >= 1", timeout=20000)
    figures = page.evaluate(FIGURES_JS)
    chapter_number = str(int(chapter.split("/")[-1][:2]))  # notebooks/03_... is chapter 3 (the TOC numbers them)
    assert len(figures) >= 3
    unnumbered = [f["what"][:60] for f in figures if not f["number"]]
    assert not unnumbered, f"figures without a numbered caption: {unnumbered}"
    numbers = [f["number"] for f in figures]
    assert all(n.startswith(f"Fig. {chapter_number}.") for n in numbers), numbers
    assert len(set(numbers)) == len(numbers), f"a figure number used twice: {numbers}"
    assert all(len(f["caption"]) > len(f["number"]) + 20 for f in figures), "a caption with no words"
    assert not problems


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_plotly_titles_and_legends_fit_a_phone(server, loaded, chapter):
    """At 390 px every plotly figure's title and legend lie inside the figure (titles once ran off the right
    edge, a two-line title's first line off the top, and legends on the right took most of the width)."""
    page, problems = loaded(f"{server}/{chapter}", width=390)
    page.wait_for_function("() => document.querySelectorAll('.quinebook-plotly .main-svg').length >= 1", timeout=20000)
    out = page.evaluate("""() => [...document.querySelectorAll('.quinebook-plotly .js-plotly-plot')].map(gd => {
        const box = gd.getBoundingClientRect();
        const parts = [...gd.querySelectorAll('.gtitle, .legend')].map(el => [el.classList[0], el.getBoundingClientRect()]);
        return parts.filter(([, r]) => r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1
                                                       || r.top < box.top - 1 || r.bottom > box.bottom + 1))
            .map(([what, r]) => `${what} x ${Math.round(r.left - box.left)}..${Math.round(r.right - box.left)} of `
                 + `${Math.round(box.width)} px, y ${Math.round(r.top - box.top)}..${Math.round(r.bottom - box.top)}: `
                 + (gd.querySelector('.gtitle') || {}).textContent);
    }).flat()""")
    assert not out, out[:4]
    assert not problems


def test_no_link_points_at_a_file_name_as_if_it_were_a_web_site(built_site):
    """Linkify once turned `run.py` into http://run.py: no link's host may end like a file name."""
    import re

    _, html = built_site
    bad = {}
    for rel in _pages(html):
        hosts = re.findall(r'href="https?://([^/"?#]+)', (html / rel).read_text())
        odd = sorted({h for h in hosts if re.search(r"\.(py|md|txt|ipynb|yml|yaml|toml|json|sh|csv|pt)$", h)})
        if odd:
            bad[rel] = odd
    assert not bad, bad


def test_live_code_says_so_when_it_cannot_load(server, browser):
    """Offline (as in this test, where nothing outside the site answers), Live Code explains itself instead of
    staying on "Loading thebe from CDN..." for ever."""
    page, _ = open_page(browser, f"{server}/{CHAPTERS[0]}")
    page.route("**/*", lambda route: route.abort() if "127.0.0.1" not in route.request.url else route.continue_())
    page.wait_for_function("() => typeof initThebe === 'function' && initThebe.quinebookWrapped === true",
                           timeout=20000)
    # the theme's "Live Code" button calls initThebeSBT, which adds the launch button and calls initThebe
    page.evaluate("() => (typeof initThebeSBT === 'function' ? initThebeSBT : initThebe)()")
    page.wait_for_selector(".quinebook-thebe-message", timeout=20000)
    assert "internet connection" in page.locator(".quinebook-thebe-message").inner_text()
    page.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_widget_standin_and_hidden_solution(server, loaded, chapter):
    page, problems = loaded(f"{server}/{chapter}")
    page.wait_for_selector(".widget-standin .main-svg", state="attached", timeout=20000)
    standin = page.locator(".widget-standin")
    assert standin.count() == 1
    assert standin.locator(".main-svg").count() >= 1, "the stand-in figure is not drawn"
    assert standin.locator(".slider-container, .slider-rail-rect, g.slider-container").count() >= 1
    assert page.locator(".jupyter-widgets, .widget-slider").count() == 0, "a dead widget is on the page"
    hidden = page.locator(".tag_solution")
    assert hidden.count() >= 1
    assert not hidden.first.locator("details").first.evaluate("d => d.open"), "the solution is not hidden"
    toggle = hidden.first.locator("summary").first.inner_text()
    assert "Show solution" in toggle, f"a solution's toggle should say so, not {toggle!r}"
    imports = page.locator(".tag_hide-input")
    assert imports.count() >= 1, "the imports cell should be collapsed"
    assert not problems


def test_screenshots_for_a_person(built_site, server, browser, loaded):
    """Desktop and phone screenshots of every page, full length in slices, under test-artifacts/ (not
    committed): page-1280-03.jpg is the fourth screenful of the desktop view.  Each slice is the viewport
    scrolled down (a full-page capture re-renders the whole of a long chapter for every slice: minutes)."""
    _, html = built_site
    ARTIFACTS.mkdir(exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.jpg")]:
        old.unlink()
    for rel in _pages(html):
        for width, height in ((1280, 2400), (390, 2400)):
            shared = width == 1280 or rel in CHAPTERS  # a loaded page is reused, and given back as it was
            page, _ = loaded(f"{server}/{rel}", width) if shared else open_page(browser, f"{server}/{rel}", width=width)
            page.set_viewport_size({"width": width, "height": height})
            total = page.evaluate("() => document.documentElement.scrollHeight")
            stem = rel.replace("/", "_").removesuffix(".html")
            for k, top in enumerate(range(0, total, height)):
                page.evaluate(f"() => window.scrollTo(0, {top})")
                path = ARTIFACTS / f"{stem}-{width}-{k:02d}.jpg"
                page.screenshot(path=str(path), type="jpeg", quality=80)  # smaller and quicker to write than PNG
                assert path.stat().st_size > 1000
            if shared:
                page.set_viewport_size({"width": width, "height": 900})
                page.evaluate("() => window.scrollTo(0, 0)")
            else:
                page.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_launch_buttons_follow_the_repository_setting(built_site, chapter):
    """Binder, Colab and Thebe buttons on every chapter, all derived from repository.url in _config.yml."""
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    owner_repo = urlparse(url).path.strip("/")
    page = (built_site[1] / chapter).read_text()
    nb = chapter.removesuffix(".html") + ".ipynb"
    assert f"https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/{nb}" in page
    assert f"https://colab.research.google.com/github/{owner_repo}/blob/main/{nb}" in page
    assert "launch-thebe" in page


A11Y_JS = """() => {
  """ + OPEN_DROPDOWNS_JS + """
  const article = document.querySelector('article') || document.body;
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const noAlt = [...document.querySelectorAll('img')].filter(i => !(i.getAttribute('alt') || '').trim())
      .map(i => i.getAttribute('src'));
  const levels = [...article.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(visible)
      .map(h => [Number(h.tagName[1]), h.textContent.trim().slice(0, 60)]);
  const name = a => (a.innerText || '').trim() || (a.getAttribute('aria-label') || '').trim()
      || (a.getAttribute('title') || '').trim() || [...a.querySelectorAll('img[alt], svg[aria-label]')]
      .map(i => i.getAttribute('alt') || i.getAttribute('aria-label')).join('').trim();
  const nameless = [...document.querySelectorAll('a[href]')].filter(a => visible(a) && !name(a))
      .map(a => a.outerHTML.slice(0, 160));
  """ + CLOSE_DROPDOWNS_JS + """
  return {noAlt, levels, nameless};
}"""


def test_every_page_is_accessible_images_headings_links(built_site, server, loaded):
    """Every image has alt text; headings go down one level at a time from a single h1; links have a name."""
    _, html = built_site
    problems = {}
    for rel in _pages(html):
        page, _ = loaded(f"{server}/{rel}")
        found = page.evaluate(A11Y_JS)
        issues = []
        if found["noAlt"]:
            issues.append(f"images without alt text: {found['noAlt']}")
        levels = [lvl for lvl, _ in found["levels"]]
        if levels and (levels[0] != 1 or levels.count(1) != 1):
            issues.append(f"the page must open with its only h1: {found['levels'][:3]}")
        jumps = [(a, b) for a, b in zip(found["levels"], found["levels"][1:]) if b[0] > a[0] + 1]
        if jumps:
            issues.append(f"heading levels skipped: {jumps}")
        if found["nameless"]:
            issues.append(f"links without text: {found['nameless']}")
        if issues:
            problems[rel] = issues
    assert not problems, problems


def test_no_broken_internal_links(built_site):
    """Every link from one page of the site to another (and to an anchor in it) resolves in the built files."""
    from html.parser import HTMLParser
    from urllib.parse import unquote, urljoin

    _, html = built_site

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.hrefs, self.ids = [], set()

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if attrs.get("id"):
                self.ids.add(attrs["id"])
            if tag == "a" and attrs.get("href"):
                self.hrefs.append(attrs["href"])

    parsed = {}
    for rel in _pages(html) + ["search.html"]:
        c = Collect()
        c.feed((html / rel).read_text(errors="replace"))
        parsed[rel] = c
    broken = []
    for rel, c in parsed.items():
        for href in c.hrefs:
            url = urlparse(urljoin(f"http://site/{rel}", href))
            if url.netloc != "site" or url.scheme not in ("http", "https"):
                continue
            target = unquote(url.path.lstrip("/")) or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (html / target).is_file():
                broken.append(f"{rel} -> {href} (no file {target})")
                continue
            if url.fragment and target.endswith(".html"):
                if target not in parsed:
                    c2 = Collect()
                    c2.feed((html / target).read_text(errors="replace"))
                    parsed.setdefault(target, c2)
                if unquote(url.fragment) not in parsed[target].ids:
                    broken.append(f"{rel} -> {href} (no anchor #{url.fragment} in {target})")
    assert not broken, "\n".join(broken[:40])


def test_search_finds_pages(server, browser):
    """The static site's search box works: searching a word that only chapters use lists those chapters."""
    page, problems = open_page(browser, f"{server}/search.html?q=regeneration")
    page.wait_for_selector("#search-results ul.search li, ul.search li", timeout=30000)
    hits = page.locator("ul.search li a").all_inner_texts()
    assert any("zero quine" in h.lower() for h in hits), hits
    assert any("index quine" in h.lower() for h in hits), hits
    page.close()
    page, _ = open_page(browser, f"{server}/search.html?q=xyzzyqwertynotaword")
    page.wait_for_function("() => document.querySelector('#search-results') && "
                           "/did not match|no results|0 (result|page)/i.test(document.querySelector('#search-results').innerText)",
                           timeout=30000)
    assert page.locator("ul.search li").count() == 0
    assert not problems
    page.close()


def test_no_empty_top_bar_on_a_desktop_and_one_search_field(server, browser):
    """At 1280 px the theme's top bar, which held only a second search button, is gone; the sidebar's search
    field is there and opens the search dialog.  On a phone the bar stays (it holds the menu's controls)."""
    page, problems = open_page(browser, f"{server}/{CHAPTERS[0]}", width=1280)
    assert page.evaluate("() => getComputedStyle(document.querySelector('#pst-header')).display") == "none"
    field = page.locator(".bd-sidebar-primary .search-button-field")
    assert field.count() == 1 and field.first.is_visible(), "the sidebar's search field is missing"
    field.first.click()
    page.wait_for_selector("dialog#pst-search-dialog[open] input[name=q]", state="visible", timeout=10000)
    assert page.evaluate("() => document.activeElement && document.activeElement.name === 'q'"), "the box has no focus"
    assert not problems
    page.close()
    phone, _ = open_page(browser, f"{server}/{CHAPTERS[0]}", width=390)
    assert phone.evaluate("() => getComputedStyle(document.querySelector('#pst-header')).display") != "none"
    phone.close()


def test_quizzes_answer_in_the_static_page(server, browser):
    """The self-check page works without a kernel: every option is closed at first, opening it shows whether it
    is right, and each question has exactly one right option (the maths in the options is typeset)."""
    page, problems = open_page(browser, f"{server}/book/quizzes.html")
    page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 5", timeout=20000)
    options = page.locator("details.quinebook-quiz-option")
    n = options.count()
    assert n >= 60, f"only {n} quiz options on the page"
    assert not any(options.nth(i).evaluate("d => d.open") for i in range(n)), "an answer is shown before a click"
    answers = []
    for i in range(n):
        option = options.nth(i)
        option.locator("summary").click()
        assert option.evaluate("d => d.open"), "clicking an option did not open it"
        body = option.locator(".sd-summary-content, .sd-card-body").first.inner_text().strip()
        answers.append(body.split(":")[0])
    assert set(answers) == {"Right", "Not quite"}, set(answers)
    # one right option per question: the questions are the bold "N." paragraphs before their options
    per_question = page.evaluate("""() => {
        const counts = []; let current = null;
        for (const el of document.querySelectorAll('article p, article details.quinebook-quiz-option')) {
            if (el.tagName === 'P' && /^\\d+\\.\\s/.test(el.innerText) && el.querySelector('strong')) {
                current = [0, 0]; counts.push(current);
            } else if (el.tagName === 'DETAILS' && current) {
                current[0] += 1; if (/^Right:/.test(el.querySelector('.sd-summary-content, .sd-card-body').innerText.trim())) current[1] += 1;
            }
        }
        return counts; }""")
    assert len(per_question) >= 20 and all(opts >= 3 and right == 1 for opts, right in per_question), per_question
    assert not problems
    page.close()


def test_navigation_and_numbering_follow_the_table_of_contents(built_site):
    """Chapters are numbered 1..n in _toc.yml order, and each page's previous/next links follow that order."""
    import re

    import yaml

    _, html = built_site
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    order = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    numbered = [c["file"] for part in toc["parts"] if part.get("numbered") for c in part["chapters"]]
    assert [f"{f}.html" for f in numbered] == list(CHAPTERS), "every chapter notebook is in the numbered part"
    for k, doc in enumerate(numbered, start=1):
        page = (html / f"{doc}.html").read_text()
        titles = re.findall(r"<h1>(.*?)</h1>", page, flags=re.S)
        assert any(t.startswith(f'<span class="section-number">{k}. </span>') for t in titles), \
            f"{doc} should be chapter {k}: {[t[:60] for t in titles]}"
    for i, doc in enumerate(order):
        page = (html / f"{doc}.html").read_text()
        prev = re.search(r'<a class="left-prev"\s+href="([^"]+)"', page)
        nxt = re.search(r'<a class="right-next"\s+href="([^"]+)"', page)
        here = f"http://site/{doc}.html"
        if i > 0:
            assert prev and urljoin(here, prev.group(1)) == f"http://site/{order[i - 1]}.html", f"{doc}: previous"
        if i + 1 < len(order):
            assert nxt and urljoin(here, nxt.group(1)) == f"http://site/{order[i + 1]}.html", f"{doc}: next"


def test_every_glossary_term_is_used_and_every_chapter_uses_terms():
    import re

    import nbformat

    glossary = (ROOT / "book" / "glossary.md").read_text()
    terms = re.findall(r"^([A-Za-z][^\n]*)\n  ", glossary.split("```{glossary}")[1], flags=re.M)
    assert len(terms) >= 15
    texts = {p.name: "\n".join(c.source for c in nbformat.read(p, as_version=4).cells if c.cell_type == "markdown")
             for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    texts.update({p.name: p.read_text() for p in (ROOT / "book").glob("*.md") if p.name != "glossary.md"})
    used = {m.lower() for t in texts.values() for m in re.findall(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", t)}
    unused = [t for t in terms if t.lower() not in used]
    assert not unused, f"glossary terms no page refers to: {unused}"
    for name, text in texts.items():
        if name[:2].isdigit():
            assert text.count("{term}`") >= 2, f"{name} uses fewer than two glossary terms"


SWITCH_TO_JS = """async (want) => {
    for (let k = 0; k < 3 && document.documentElement.dataset.theme !== want; k++) {
        document.querySelector('.theme-switch-button').click();
        await new Promise(r => setTimeout(r, 50));
    }
    return document.documentElement.dataset.theme;
}"""
FIGURE_COLOURS_JS = """() => {
    const probe = document.createElement('span');
    document.body.appendChild(probe);
    const rgb = c => { probe.style.color = ''; probe.style.color = c; return getComputedStyle(probe).color; };
    const out = [...document.querySelectorAll('.quinebook-plotly .js-plotly-plot')].map(gd => {
        const L = gd._fullLayout;
        return {paper: rgb(L.paper_bgcolor), plot: rgb(L.plot_bgcolor), font: rgb(L.font.color),
                grid: L.xaxis ? rgb(L.xaxis.gridcolor) : null, tick: L.xaxis ? rgb(L.xaxis.tickfont.color) : null};
    });
    probe.remove();
    return out;
}"""


def _luminance(colour):
    """Relative luminance (WCAG) of '#rrggbb' or 'rgb(a)(r, g, b[, a])'."""
    colour = colour.strip()
    if colour.startswith("#"):
        rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        rgb = [float(v) for v in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3]]
    lin = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a, b):
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("chapter", CHAPTERS[::2])  # one script styles every figure: three chapters' figures check it
def test_plotly_figures_follow_the_light_and_dark_modes(server, browser, chapter):
    """The theme's switch turns the figures dark (readable text on a dark background) and back to exactly
    the colours they had; a page opened in dark mode draws its figures dark from the start."""
    page, problems = open_page(browser, f"{server}/{chapter}")
    page.wait_for_function("() => document.querySelectorAll('.quinebook-plotly .main-svg').length >= 1", timeout=20000)
    assert page.evaluate("() => document.documentElement.dataset.theme") == "light"
    light = page.evaluate(FIGURE_COLOURS_JS)
    assert light and all(_luminance(f["paper"]) > 0.8 and _contrast(f["font"], f["paper"]) > 4.5 for f in light)
    assert page.evaluate(SWITCH_TO_JS, "dark") == "dark"
    page.wait_for_timeout(300)
    dark = page.evaluate(FIGURE_COLOURS_JS)
    assert len(dark) == len(light)
    for f in dark:
        assert _luminance(f["paper"]) < 0.05 and _luminance(f["plot"]) < 0.05, f"a figure stayed light: {f}"
        assert _contrast(f["font"], f["paper"]) > 7 and _contrast(f["tick"], f["plot"]) > 7, f
    assert page.evaluate(SWITCH_TO_JS, "light") == "light"
    page.wait_for_timeout(300)
    assert page.evaluate(FIGURE_COLOURS_JS) == light, "switching back did not restore the light colours"
    page.close()
    # a reader who chose dark mode earlier: the theme reads it from localStorage as the page loads
    again, more = open_page(browser, f"{server}/{chapter}")
    again.evaluate("() => { localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark'); }")
    again.reload(wait_until="networkidle")
    again.wait_for_function("() => document.querySelectorAll('.quinebook-plotly .main-svg').length >= 1",
                            timeout=20000)
    again.wait_for_timeout(300)
    assert again.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert all(_luminance(f["paper"]) < 0.05 for f in again.evaluate(FIGURE_COLOURS_JS))
    again.close()
    assert not problems and not more, problems + more


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_draws_its_architecture(server, loaded, chapter):
    """Each chapter shows its schematic (an SVG from tools/diagrams.py) in a numbered figure, with alt text,
    drawn by the browser (not a broken image), on its own light panel so it reads in dark mode too."""
    page, problems = loaded(f"{server}/{chapter}")
    found = page.evaluate("""() => [...document.querySelectorAll('figure img')]
        .filter(img => img.getAttribute('src').includes('ch') && img.getAttribute('src').endsWith('.svg'))
        .map(img => ({src: img.getAttribute('src'), alt: img.getAttribute('alt') || '', width: img.naturalWidth,
                      shown: img.getBoundingClientRect().width,
                      caption: (img.closest('figure').querySelector('figcaption') || {}).innerText || ''}))""")
    if found:  # for a person to look at (test-artifacts/diagram-*.png)
        ARTIFACTS.mkdir(exist_ok=True)
        shown = page.locator("figure img[src$='.svg']").first
        shown.scroll_into_view_if_needed()
        shown.screenshot(path=str(ARTIFACTS / f"diagram-{Path(chapter).stem}.png"))
    assert found, "no architecture diagram on the page"
    for img in found:
        assert len(img["alt"]) > 40, f"{img['src']}: alt text too short: {img['alt']!r}"
        assert img["width"] > 0 and img["shown"] > 300, f"{img['src']} is not drawn: {img}"
        assert img["caption"].startswith(f"Fig. {int(chapter.split('/')[-1][:2])}."), img["caption"][:40]
    assert not problems


def test_the_formula_sheets_and_the_slides_render_offline(server, loaded):
    """book/formulas.md and book/slides.md (make handout): their maths typesets with the site's own MathJax (no
    request leaves the site: open_page records any), and each slide fills the screen it is projected on."""
    page, problems = loaded(f"{server}/book/formulas.html")
    page.wait_for_function("() => document.querySelectorAll('mjx-container[display=\"true\"]').length >= 30",
                           timeout=20000)
    assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error on the formula sheets"
    assert page.locator("article h2").count() == len(CHAPTERS)
    assert not problems, problems
    slides, more = loaded(f"{server}/book/slides.html")
    heights = slides.evaluate("() => [...document.querySelectorAll('section#workshop-slides > section')]"
                              ".map(s => s.getBoundingClientRect().height)")
    assert len(heights) == len(CHAPTERS) + 2 and min(heights) >= 900, heights  # the viewport is 900 px high
    assert slides.locator("mjx-merror").count() == 0 and not more, more
