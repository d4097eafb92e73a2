/**
 * PolicyGate: every denied path and every size breach is caught. Method: fast-check builds change
 * lists that mix allowed files with files under always-denied or configured-denied paths, and
 * sizes around each limit; the gate must name each offending file and each breached limit.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { FileChange } from "../../src/services/Git.ts"
import * as PolicyGate from "../../src/programs/PolicyGate.ts"

const segment = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/)
const safePath = fc.tuple(fc.constantFrom("src", "lib", "docs"), fc.array(segment, { minLength: 1, maxLength: 3 }))
  .map(([root, rest]) => `${root}/${rest.join("/")}.ts`)
/** Paths that SPEC F7 always denies, or that the config below denies. */
const deniedPath = fc.oneof(
  segment.map((s) => `.oompa/runs/${s}.json`),
  segment.map((s) => `tasks/pending/${s}.json`),
  segment.map((s) => `.oompa-new-tasks/${s}.json`),
  fc.array(segment, { maxLength: 3 }).map((dirs) => [...dirs, ".env"].join("/")),
  fc.array(segment, { maxLength: 3 }).chain((dirs) => segment.map((s) => [...dirs, `.env.${s}`].join("/"))),
  fc.array(segment, { maxLength: 3 }).chain((dirs) => segment.map((s) => [...dirs, `${s}.pem`].join("/"))),
  segment.map((s) => `secrets/${s}.txt`)
)
const change = (path: string, added = 1, deleted = 0, binary = false): FileChange => ({ path, status: "modified", added, deleted, binary })

describe("PolicyGate", () => {
  it("catches every denied path, always-denied ones whatever the config", () =>
    fc.assert(fc.property(fc.array(safePath, { maxLength: 5 }), fc.array(deniedPath, { minLength: 1, maxLength: 5 }), (ok, bad) => {
      const gate = PolicyGate.make({ deny: ["secrets/**"] }, "tasks")
      const violations = gate.check([...ok, ...bad].map((p) => change(p)))
      for (const path of bad) assert.isTrue(violations.some((v) => v.startsWith(`${path}:`)), `${path} was not caught: ${violations.join("; ")}`)
      for (const path of ok) assert.isFalse(violations.some((v) => v.startsWith(`${path}:`)), `${path} was wrongly denied`)
    })))

  it("with no policy, only the always-denied paths are restricted", () =>
    fc.assert(fc.property(fc.array(safePath, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 100_000 }), (paths, lines) => {
      const gate = PolicyGate.make({}, "tasks")
      assert.deepStrictEqual(gate.check(paths.map((p) => change(p, lines, lines, true))), [])
    })))

  it("catches every size breach and nothing at or under the limits", () =>
    fc.assert(fc.property(
      fc.array(fc.record({ path: safePath, added: fc.nat(300), deleted: fc.nat(300), binary: fc.boolean() }), { minLength: 1, maxLength: 12 }),
      fc.record({ max_lines_added: fc.nat(1500), max_lines_deleted: fc.nat(1500), max_files: fc.nat(12), allow_binary: fc.boolean() }),
      (files, limits) => {
        const unique = [...new Map(files.map((f) => [f.path, f])).values()]
        const violations = PolicyGate.make(limits, "tasks").check(unique.map((f) => change(f.path, f.added, f.deleted, f.binary)))
        const added = unique.reduce((s, f) => s + f.added, 0)
        const deleted = unique.reduce((s, f) => s + f.deleted, 0)
        assert.strictEqual(violations.some((v) => v.includes("lines added")), added > limits.max_lines_added)
        assert.strictEqual(violations.some((v) => v.includes("lines deleted")), deleted > limits.max_lines_deleted)
        assert.strictEqual(violations.some((v) => v.includes("files changed")), unique.length > limits.max_files)
        for (const f of unique) {
          assert.strictEqual(violations.includes(`${f.path}: binary files are not allowed`), f.binary && !limits.allow_binary)
        }
      }
    )))

  it("allow lists restrict every other path", () => {
    const gate = PolicyGate.make({ allow: ["src/**"] }, "tasks")
    assert.deepStrictEqual(gate.check([change("src/a/b.ts")]), [])
    assert.deepStrictEqual(gate.check([change("README.md")]), ["README.md: path is outside the allowed paths (src/**)"])
  })

  it("a custom tasks_dir is always denied", () => {
    const gate = PolicyGate.make({}, "work/queue/")
    assert.strictEqual(gate.check([change("work/queue/pending/x.json")]).length, 1)
  })

  it("deny and allow globs read as .gitignore users write them: a bare name at any depth, a trailing / for a folder, a leading / anchored at the top", () => {
    const denies = (deny: string, path: string) => PolicyGate.make({ deny: [deny] }, "tasks").isDenied(path)
    for (const spelling of ["secrets", "secrets/", "/secrets/**", "/secrets", "secrets/**"]) {
      assert.isTrue(denies(spelling, "secrets/key.txt"), `${spelling} must deny secrets/key.txt`)
      assert.isTrue(denies(spelling, "secrets/deep/key.txt"), `${spelling} must deny secrets/deep/key.txt`)
      assert.isFalse(denies(spelling, "src/secrets.ts"), `${spelling} must not deny src/secrets.ts`)
    }
    assert.isTrue(denies("secrets", "lib/secrets/key.txt"), "a bare name matches at any depth")
    assert.isFalse(denies("/secrets", "lib/secrets/key.txt"), "a leading / anchors at the top")
    assert.isTrue(denies("*.key", "a/b/c.key"))
    assert.isTrue(denies("secrets/", "secrets/x"))
    const allowSrc = PolicyGate.make({ allow: ["src"] }, "tasks")
    assert.deepStrictEqual(allowSrc.check([change("src/a/b.ts")]), [])
    assert.strictEqual(allowSrc.check([change("lib/a.ts")]).length, 1)
  })
})
