import { assert, describe, it } from "@effect/vitest"
import { Ids } from "@oompa/core"

describe("Ids.idProblem", () => {
  it("refuses the endings git refuses in a ref name (task ids name refs/oompa/merged/<task>), and keeps the ordinary ids", () => {
    for (const id of ["t.lock", "t.", "fix-1.lock"]) assert.strictEqual(Ids.idProblem(id), "ends with '.' or '.lock', which git refuses in a ref name", id)
    for (const id of ["t1", "t.locked", "add-retry-limit", "v1.2", "a_b"]) assert.isUndefined(Ids.idProblem(id), id)
  })
})
