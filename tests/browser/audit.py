"""What every page a browser test visits goes through: axe-core with the WCAG 2.1 A and AA rules
(serious and critical violations are failures), no horizontal scrolling on a 390 px wide phone,
and a full-page screenshot kept under artifacts/screenshots/<role>/."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import REPO_ROOT

AXE_SCRIPT = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = {"serious", "critical"}

RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(" ")),
  }));
}"""
WATCH_POLICY = """window.__blockedByPolicy = [];
document.addEventListener("securitypolicyviolation", (event) => window.__blockedByPolicy.push(
  `${event.violatedDirective} ${event.blockedURI || "inline"}`));"""
BLOCKED_BY_POLICY = "window.__blockedByPolicy || []"
PAGE_WIDTHS = "[document.documentElement.scrollWidth, window.innerWidth]"


@dataclass
class Violation:
    role: str
    page: str
    url: str
    rule: str
    impact: str
    help: str
    targets: list[str]

    def __str__(self) -> str:
        return (f"{self.rule} ({self.impact}) on {self.role}/{self.page} {self.url}: {self.help}; "
                f"{', '.join(self.targets[:5])}")


@dataclass
class Audit:
    """The pages seen in one test, by several people, and what was wrong with them."""

    name: str
    browser: object
    base_url: str
    axe_script: Path
    device: dict
    violations: list[Violation] = field(default_factory=list)
    overflows: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    pages_seen: int = 0
    screenshots_taken = 0  # across the run: conftest prints the folder when there are some

    async def person(self, role: str) -> Person:
        """A new person with a browser of their own (own cookies), shooting into <role>/."""
        context = await self.browser.new_context(base_url=self.base_url, **self.device)
        # Given to every page by the browser itself, so the pages' Content-Security-Policy
        # (no inline script) stays in force, and whatever it blocks is reported by check().
        await context.add_init_script(script=WATCH_POLICY)
        await context.add_init_script(path=str(self.axe_script))
        folder = SCREENSHOTS / role
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return Person(self, role, context, await context.new_page(), folder)

    async def check(self, person: Person, name: str) -> None:
        page = person.page
        await page.wait_for_load_state("load")
        for found in await page.evaluate(RUN_AXE, WCAG_TAGS):
            self.violations.append(Violation(person.role, name, page.url, found["id"],
                                             found["impact"], found["help"], found["targets"]))
        scroll_width, width = await page.evaluate(PAGE_WIDTHS)
        self.blocked += [f"{person.role}/{name} {page.url}: {what}"
                         for what in await page.evaluate(BLOCKED_BY_POLICY)]
        if scroll_width > width:
            self.overflows.append(f"{person.role}/{name} {page.url}: {scroll_width} px wide "
                                  f"in a {width} px window")
        person.pages += 1
        self.pages_seen += 1
        Audit.screenshots_taken += 1
        await page.screenshot(path=person.folder / f"{person.pages:02d}-{name}.png", full_page=True)

    def _write_report(self) -> None:
        """Every violation, whatever its impact, next to the screenshots."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"axe-{self.name}.txt").write_text(
            f"{self.pages_seen} pages\n" + "".join(f"{v}\n" for v in self.violations)
            + "".join(f"horizontal scrolling on {overflow}\n" for overflow in self.overflows)
            + "".join(f"blocked by the security policy: {blocked}\n" for blocked in self.blocked))

    def failures(self) -> list[str]:
        return ([str(v) for v in self.violations if v.impact in FAILING_IMPACTS]
                + [f"horizontal scrolling on {overflow}" for overflow in self.overflows]
                + [f"blocked by the security policy: {blocked}" for blocked in self.blocked])

    def assert_clean(self) -> None:
        self._write_report()
        failures = self.failures()
        assert not failures, (f"{len(failures)} problem(s) on {self.pages_seen} pages:\n"
                              + "\n".join(failures))


@dataclass
class Person:
    audit: Audit
    role: str
    context: object
    page: object
    folder: Path
    pages: int = 0

    async def visit(self, path: str, name: str, *, status: int = 200) -> None:
        response = await self.page.goto(path)
        assert response.status == status, f"{path}: {response.status}"
        await self.check(name)

    async def visit_if_present(self, path: str, name: str) -> None:
        """For the pages another feature brings: checked once they exist (not a 404)."""
        response = await self.page.goto(path)
        if response.status != 404:
            assert response.ok, f"{path}: {response.status}"
            await self.check(name)

    async def check(self, name: str) -> None:
        """Checks the page in front of this person, under ``name``."""
        await self.audit.check(self, name)

    async def sign_in(self, email: str, password: str) -> None:
        await self.visit("/accounts/login", "connexion")
        await self.page.get_by_label("Adresse e-mail").fill(email)
        await self.page.get_by_label("Mot de passe").fill(password)
        await self.page.get_by_role("button", name="Se connecter").click()
        await self.page.wait_for_url(re.compile(r"^(?!.*/accounts/login)"))
        await self.check("apres-connexion")

    async def close(self) -> None:
        await self.context.close()
