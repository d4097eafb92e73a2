// Installs the real agent CLIs the harness contract tests (test/contracts, SPEC F3) run, at pinned
// versions, into a git-ignored cache folder outside the project's node_modules, and reuses them when
// the installed versions already match. Their binaries ship inside the npm packages (as platform
// optional dependencies), so nothing is downloaded from anywhere but the npm registry.
//
//   node scripts/install-contract-clis.mjs            install (or reuse) and print where they are
//   OOMPA_CONTRACT_CLIS=/some/dir node scripts/...    another cache folder (the tests read the same variable)
//
// `npm run test:contracts` runs this, then `vitest run --config vitest.contracts.config.ts`.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, readdirSync, lstatSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

/** The versions SPEC F3's command lines were checked against. Keep test/contracts/clis.ts in step. */
export const pins = {
  "@openai/codex": "0.169.0",
  "@anthropic-ai/claude-code": "2.1.331",
  "@google/gemini-cli": "0.61.0",
  "opencode-ai": "1.18.33"
}

const cache = resolve(process.env["OOMPA_CONTRACT_CLIS"] ?? join(root, ".cache", "contract-clis"))

const installedVersion = (name) => {
  const file = join(cache, "node_modules", name, "package.json")
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, "utf8")).version
  } catch {
    return undefined
  }
}

/** Bytes under `dir`, symlinks not followed, a hard-linked file counted once (as `du` does). */
const sizeOf = (dir) => {
  let total = 0
  const seen = new Set()
  const stack = [dir]
  while (stack.length > 0) {
    const current = stack.pop()
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) stack.push(path)
      else {
        const stat = lstatSync(path)
        if (seen.has(stat.ino)) continue
        seen.add(stat.ino)
        total += stat.size
      }
    }
  }
  return total
}

const stale = Object.entries(pins).filter(([name, version]) => installedVersion(name) !== version)
const started = Date.now()
if (stale.length === 0) {
  console.log(`contract CLIs: reusing ${cache} (${Object.entries(pins).map(([n, v]) => `${n}@${v}`).join(", ")})`)
} else {
  console.log(`contract CLIs: installing ${stale.map(([n, v]) => `${n}@${v}`).join(", ")} into ${cache} ...`)
  mkdirSync(cache, { recursive: true })
  writeFileSync(join(cache, "package.json"), `${JSON.stringify({
    name: "oompa-contract-clis",
    private: true,
    description: "The real agent CLIs for oompa's harness contract tests (scripts/install-contract-clis.mjs).",
    dependencies: pins
  }, null, 2)}\n`)
  const npm = process.platform === "win32" ? "npm.cmd" : "npm"
  const result = spawnSync(npm, ["install", "--prefix", cache, "--no-audit", "--no-fund", "--loglevel=error", "--no-package-lock"], {
    cwd: cache,
    stdio: "inherit"
  })
  if (result.status !== 0) {
    console.error(`contract CLIs: npm install failed (exit ${result.status ?? result.signal})`)
    process.exit(1)
  }
  const wrong = Object.entries(pins).filter(([name, version]) => installedVersion(name) !== version)
  if (wrong.length > 0) {
    console.error(`contract CLIs: after install, wrong versions: ${wrong.map(([n, v]) => `${n} is ${installedVersion(n) ?? "missing"}, want ${v}`).join("; ")}`)
    process.exit(1)
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`contract CLIs: installed in ${seconds} s, ${(sizeOf(cache) / 2 ** 20).toFixed(0)} MiB in ${cache}`)
}

const bins = ["codex", "claude", "gemini", "opencode"].map((bin) => join(cache, "node_modules", ".bin", bin))
const missing = bins.filter((bin) => !existsSync(bin))
if (missing.length > 0) {
  console.error(`contract CLIs: missing binaries after install: ${missing.join(", ")}`)
  process.exit(1)
}
