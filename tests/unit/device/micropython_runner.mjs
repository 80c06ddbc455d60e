// Runs Python under the MicroPython WebAssembly build (npm: @micropython/micropython-webassembly-pyscript).
//
// usage: node micropython_runner.mjs MICROPYTHON_MJS HEAP_BYTES CODE PATH...
// Each PATH (a .py file or a package directory of .py files) is copied into /lib of the
// interpreter's filesystem, /lib goes first on sys.path, then CODE runs. CODE sets the global
// `failed`; the exit status is 1 when it is non-zero or when CODE raises.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";

const [moduleFile, heapBytes, code, ...paths] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(moduleFile).href);
const mp = await loadMicroPython({
  heapsize: Number(heapBytes),
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});

mp.FS.mkdirTree("/lib");
for (const path of paths) {
  const name = basename(path);
  if (statSync(path).isDirectory()) {
    mp.FS.mkdirTree(`/lib/${name}`);
    for (const file of readdirSync(path).filter((f) => f.endsWith(".py"))) {
      mp.FS.writeFile(`/lib/${name}/${file}`, readFileSync(join(path, file)));
    }
  } else {
    mp.FS.writeFile(`/lib/${name}`, readFileSync(path));
  }
}

try {
  mp.runPython(`import sys\nsys.path.insert(0, "/lib")\n${code}\n`);
  process.exitCode = mp.globals.get("failed") ? 1 : 0;
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
}
