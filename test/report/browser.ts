/**
 * Debian's Chromium driven by playwright-core, for the report and dashboard tests (issue 22).
 * `.ci/run` installs `chromium` when it is missing; here a missing browser fails the test with the
 * command that installs it, never skips it. Headless, no sandbox (CI runs as root), and none of
 * the background traffic a browser starts on its own, so a test sees only the page's own requests.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "@effect/vitest"
import { type Browser, chromium, type Page } from "playwright-core"

export const chromiumPath = process.env["OOMPA_CHROMIUM"] ?? "/usr/bin/chromium"

/** Where screenshots go: a test artifact, not committed (the README's copies are in docs/images/). */
export const artifacts = path.resolve(import.meta.dirname, "../../test-artifacts")

export const launch = async (): Promise<Browser> => {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`no browser at ${chromiumPath}: install Debian's chromium (apt-get install chromium; .ci/run does) or set OOMPA_CHROMIUM`)
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
      "--disable-default-apps", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
      "--metrics-recording-only", "--no-pings"
    ]
  })
}

/** What a page said on its console and every request it made, to assert on. */
export const watch = (page: Page) => {
  const problems: Array<string> = []
  const requests: Array<string> = []
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`)
  })
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("request", (r) => requests.push(r.url()))
  return { problems, requests }
}

export const screenshot = async (page: Page, name: string): Promise<string> => {
  fs.mkdirSync(artifacts, { recursive: true })
  const file = path.join(artifacts, name)
  await page.screenshot({ path: file, fullPage: false })
  return file
}

/** One browser for a test file: launched before its tests, closed (then `cleanup`) after them. */
export const browserForFile = (cleanup: () => void): (() => Browser) => {
  let browser: Browser | undefined
  beforeAll(async () => {
    browser = await launch()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    cleanup()
  })
  return () => {
    if (browser === undefined) throw new Error("the browser did not start: see beforeAll")
    return browser
  }
}
