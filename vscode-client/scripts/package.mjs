// Packages the extension.
//
//   node scripts/package.mjs                     the universal envls-<version>.vsix: no bundled envls,
//                                                the Python must have it (bundled/ is left out, and alone)
//   node scripts/package.mjs --target linux-x64  bundles envls and its dependencies first (any target of
//                                                bundle-python.mjs; its other options pass through) and
//                                                makes envls-linux-x64-<version>.vsix
//
// The README's images stay relative (there is no public repository to point them at): VS Code shows
// them from the installed extension's folder.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const i = process.argv.indexOf('--target');
const target = i >= 0 ? process.argv[i + 1] : undefined;
const node = process.execPath;
const vsce = join(here, 'node_modules', '@vscode', 'vsce', 'vsce');

if (target) {
    execFileSync(node, [join(here, 'scripts', 'bundle-python.mjs'), '--target', target, ...process.argv.slice(2).filter((a, j, all) => a !== '--target' && all[j - 1] !== '--target')],
        { cwd: here, stdio: 'inherit' });
}
const out = target ? `envls-${target}-${version}.vsix` : `envls-${version}.vsix`;
// package.json's "vsce" key adds --no-dependencies (esbuild bundles them), --skip-license and
// --allow-missing-repository; commander's default for this flag cannot be set there.
execFileSync(node, [vsce, 'package', '--no-rewrite-relative-links', ...(target ? ['--target', target] : ['--ignoreFile', '.vscodeignore.universal']), '--out', out],
    { cwd: here, stdio: 'inherit' });
console.log(`packaged ${join(here, out)}`);
