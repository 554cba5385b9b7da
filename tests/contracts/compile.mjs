// Compiles every *.sol of a source directory (default src/; argv[2] names another) with the
// pinned solc-js (standard JSON input, optimizer on, evmVersion cancun) and prints
// {"compiler": version, "contracts": {Name: {abi, bytecode, deployedBytecode}}} on stdout.
// Sources are named "<directory's base name>/<file>" (so src/ keeps its names and bytecode).
// scripts/build_contracts.py runs it and writes <build>/<Name>.json.
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = process.argv[2] ? resolve(process.argv[2]) : join(here, "src");
const prefix = basename(srcDir);
const files = readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort();
const sources = {};
for (const f of files) {
  sources[`${prefix}/${f}`] = { content: readFileSync(join(srcDir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length > 0) process.exit(1);
const contracts = {};
for (const [source, byName] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(byName)) {
    if (contracts[name] !== undefined) {
      process.stderr.write(`contract name ${name} is defined twice (${source})\n`);
      process.exit(1);
    }
    contracts[name] = {
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
  }
}
process.stdout.write(JSON.stringify({ compiler: solc.version(), contracts }));
