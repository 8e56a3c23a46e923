"""Run axe-core (pinned in tests/browser/axe/package-lock.json) in a page; crawl the dashboard."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from browser_support import ROOT

AXE_JS = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = json.loads((AXE_JS.parents[2] / "package.json").read_text())["dependencies"][
    "axe-core"
]
REPORTS = ROOT / "artifacts" / "axe"
#: WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe tags its rules by the criteria they test).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: Every WCAG 2.2 A/AA rule runs (pages update in place: no <meta refresh> to flag).
DISABLED_RULES: dict[str, dict[str, bool]] = {}
#: Links a crawler must not follow: they change state, log out, or download a file.
SKIP_SUFFIXES = (".csv", ".json", ".png", ".svg")
SKIP_PATHS = ("/logout", "/dashboard/logout")


@dataclass
class AxeLog:
    """Every page checked and every violation found, written to artifacts/axe/<name>.json."""

    name: str
    pages: list[str] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    #: What axe could not decide (e.g. contrast over a gradient): kept for a human to review.
    incomplete: Counter[str] = field(default_factory=Counter)
    incomplete_examples: list[dict[str, Any]] = field(default_factory=list)
    incomplete_reasons: Counter[str] = field(default_factory=Counter)

    def check(self, page: Any, label: str, *, screenshot: bool = True) -> list[dict[str, Any]]:
        """Run axe on the page as it is now; keep its violations under the label."""
        result = run_axe_result(page)
        found: list[dict[str, Any]] = result["violations"]
        for item in result["incomplete"]:
            self.incomplete[item["id"]] += len(item["nodes"])
            for node in item["nodes"]:
                reasons = [c.get("message", "") for c in node.get("any", [])]
                why = reasons[0] if reasons else ""
                self.incomplete_reasons[why] += 1
                if self.incomplete_reasons[why] <= 3:
                    example = {"page": label, "rule": item["id"], "target": node["target"]}
                    self.incomplete_examples.append({**example, "why": why})
        self.pages.append(f"{label} {page.url}")
        for v in found:
            self.violations.append(
                {
                    "page": label,
                    "url": page.url,
                    "rule": v["id"],
                    "impact": v.get("impact"),
                    "help": v["help"],
                    "targets": [", ".join(map(str, n["target"])) for n in v["nodes"]],
                }
            )
        if screenshot:
            from browser_support import shoot

            shoot(page, f"axe-{self.name}-{label}")
        return found

    def by_rule(self) -> dict[str, int]:
        """Return the number of offending elements per axe rule."""
        counts: Counter[str] = Counter()
        for v in self.violations:
            counts[v["rule"]] += len(v["targets"])
        return dict(sorted(counts.items()))

    def write(self) -> Path:
        """Write the log as JSON (pages, violations, counts by rule) and return its path."""
        REPORTS.mkdir(parents=True, exist_ok=True)
        path = REPORTS / f"{self.name}.json"
        data = {
            "axe_core": AXE_VERSION,
            "tags": WCAG_TAGS,
            "pages": self.pages,
            "by_rule": self.by_rule(),
            "violations": self.violations,
            "incomplete_by_rule": dict(sorted(self.incomplete.items())),
            "incomplete_reasons": dict(self.incomplete_reasons.most_common()),
            "incomplete_examples": self.incomplete_examples,
        }
        path.write_text(json.dumps(data, indent=2))
        return path

    def summary(self) -> str:
        """Return one line per violation: page, rule, help, elements."""
        return "\n".join(
            f"{v['page']}: {v['rule']} ({v['help']}) at {'; '.join(v['targets'][:4])}"
            for v in self.violations
        )


def run_axe(page: Any) -> list[dict[str, Any]]:
    """Inject axe-core into the page and return its WCAG 2.2 A/AA violations."""
    violations: list[dict[str, Any]] = run_axe_result(page)["violations"]
    return violations


def run_axe_result(page: Any) -> dict[str, Any]:
    """Inject axe-core into the page and return axe.run's whole result for the WCAG tags."""
    if not AXE_JS.is_file():
        raise RuntimeError(
            f"{AXE_JS} is missing: run scripts/setup.sh (npm ci in tests/browser/axe)"
        )
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, which the pages' Content-Security-Policy
        # (script-src 'self') does not govern; a <script> tag would be refused.
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "rules": DISABLED_RULES}
    result: dict[str, Any] = page.evaluate(
        "async (options) => await window.axe.run(document, options)", options
    )
    return result


def same_origin_links(page: Any, base_url: str, selector: str = "a[href]") -> list[str]:
    """Return the absolute same-origin URLs of the links the selector matches, in page order."""
    hrefs: list[str] = page.eval_on_selector_all(
        selector, "els => els.map(e => e.getAttribute('href'))"
    )
    origin = urlsplit(base_url).netloc
    urls: list[str] = []
    for href in hrefs:
        url = urljoin(page.url, href).split("#", 1)[0]
        parts = urlsplit(url)
        if parts.netloc != origin or parts.path in SKIP_PATHS:
            continue
        if parts.path.endswith(SKIP_SUFFIXES) or url in urls:
            continue
        urls.append(url)
    return urls


def crawl(page: Any, base_url: str, *, max_pages: int = 60) -> list[str]:
    """Return every page reachable from the dashboard's header links, then their own links.

    Starts at the header (navigation and the account link) of the current page and follows
    same-origin links under /dashboard and /account (filters, pagers, views), breadth first.
    """
    queue = same_origin_links(page, base_url, "header a[href]")
    seen: list[str] = []
    while queue and len(seen) < max_pages:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.append(url)
        page.goto(url)
        for link in same_origin_links(page, base_url, "main a[href]"):
            path = urlsplit(link).path
            if path.startswith(("/dashboard", "/account")) and link not in seen:
                queue.append(link)
    return seen
