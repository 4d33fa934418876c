// Prints "<passed> <failed>" for one conformance run: the scenarios under the results directory
// given as the argument, counting one as failed when any of its checks is a FAILURE or a
// WARNING (the rule the suite's expected-failures baseline applies) or it saved no checks.
// A run that saved nothing (it died early) counts as no scenarios.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const failing = (scenarioDir) => {
  let checks;
  try {
    checks = JSON.parse(readFileSync(join(scenarioDir, "checks.json"), "utf8"));
  } catch {
    return true;
  }
  return checks.some((check) => check.status === "FAILURE" || check.status === "WARNING");
};

const dir = process.argv[2];
const scenarios = existsSync(dir) ? readdirSync(dir) : [];
const failed = scenarios.filter((scenario) => failing(join(dir, scenario))).length;
console.log(`${scenarios.length - failed} ${failed}`);
