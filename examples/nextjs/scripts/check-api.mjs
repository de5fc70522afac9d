// Regenerates the API types into a temporary file and fails if they differ from the
// committed src/lib/api.d.ts: openapi.yaml is usable by a real generator, and the file is
// current. `npm run gen:api` rewrites the committed file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const committed = "src/lib/api.d.ts";
const dir = mkdtempSync(join(tmpdir(), "todo-api-types-"));
const fresh = join(dir, "api.d.ts");
try {
  execFileSync("npx", ["--no-install", "openapi-typescript", "../../openapi.yaml", "--output", fresh], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
    console.error(`${committed} is out of date with openapi.yaml: run \`npm run gen:api\` and commit it.`);
    process.exitCode = 1;
  } else {
    console.log(`${committed} matches openapi.yaml`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
