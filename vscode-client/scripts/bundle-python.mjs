// Bundles envls and its Python dependencies into bundled/ for one `vsce package --target`:
//
//   node scripts/bundle-python.mjs [--target linux-x64] [--pythons 3.10,3.11,3.12,3.13,3.14] [--python PY] [--source DIR]
//
// Wheels only (`pip install --only-binary=:all: --platform ... --python-version ...`), so any target
// can be built on any machine that reaches PyPI. Each Python version is installed into its own
// folder, pinned to the versions the first one resolved, then the folders are merged into
// bundled/libs: the pure-Python and abi3 files are the same for every version, and the compiled
// modules of PyYAML and rpds-py carry the version in their file names (`_yaml.cpython-311-...so`),
// so one folder serves every listed Python. bundled/libs/envls-bundle.json names the target and the
// versions; the extension uses the bundle only for those, through bundled/tool/launch.py.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));

// pip platform tags per VS Code target; pip also accepts older manylinux and macOS tags than these.
export const TARGETS = {
    'linux-x64': ['manylinux_2_28_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64'],
    'linux-arm64': ['manylinux_2_28_aarch64', 'manylinux_2_17_aarch64', 'manylinux2014_aarch64'],
    'alpine-x64': ['musllinux_1_2_x86_64', 'musllinux_1_1_x86_64'],
    'alpine-arm64': ['musllinux_1_2_aarch64', 'musllinux_1_1_aarch64'],
    'darwin-x64': ['macosx_11_0_x86_64', 'macosx_10_12_x86_64', 'macosx_10_9_x86_64'],
    'darwin-arm64': ['macosx_11_0_arm64', 'macosx_11_0_universal2', 'macosx_10_9_universal2'],
    'win32-x64': ['win_amd64'],
    'win32-arm64': ['win_arm64'],
};

function currentTarget() {
    const arch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : process.arch;
    return `${process.platform}-${arch}`;
}

function option(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

// Files that differ between the per-version installs without mattering at run time.
const METADATA = /\.dist-info\/(RECORD|WHEEL|INSTALLER|REQUESTED|direct_url\.json)$/;

function files(root, dir = root, out = []) {
    for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
            files(root, path, out);
        } else {
            out.push(relative(root, path).split('\\').join('/'));
        }
    }
    return out;
}

const digest = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

function merge(stages, libs) {
    const seen = new Map();
    for (const stage of stages) {
        for (const file of files(stage)) {
            const path = join(stage, file);
            const hash = digest(path);
            const before = seen.get(file);
            if (before === undefined) {
                seen.set(file, hash);
                mkdirSync(dirname(join(libs, file)), { recursive: true });
                cpSync(path, join(libs, file));
            } else if (before !== hash && !METADATA.test(file)) {
                throw new Error(`${file} differs between the Python versions; the bundle cannot share one folder`);
            }
        }
    }
}

function run(command, args, options = {}) {
    console.log(`$ ${[command, ...args].join(' ')}`);
    return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
}

export function bundle({ target, pythons, python, source }) {
    const platforms = TARGETS[target];
    if (!platforms) {
        throw new Error(`unknown target ${target}; one of ${Object.keys(TARGETS).join(', ')}`);
    }
    const bundled = join(here, 'bundled');
    const libs = join(bundled, 'libs');
    const work = mkdtempSync(join(tmpdir(), 'envls-bundle-'));
    try {
        rmSync(bundled, { recursive: true, force: true });
        run(python, ['-m', 'pip', 'wheel', '--quiet', '--no-deps', '--wheel-dir', join(work, 'wheels'), source]);
        const wheel = readdirSync(join(work, 'wheels')).find((f) => f.startsWith('envls-') && f.endsWith('.whl'));
        const constraints = join(work, 'constraints.txt');
        const stages = [];
        for (const version of pythons) {
            const stage = join(work, `cp${version.replace('.', '')}`);
            const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-compile', '--target', stage,
                '--only-binary=:all:', '--implementation', 'cp', '--python-version', version,
                ...platforms.flatMap((p) => ['--platform', p]), join(work, 'wheels', wheel)];
            if (stages.length) {
                args.push('--constraint', constraints);
            }
            run(python, args);
            if (!stages.length) {
                // Pin every later version to what the first one resolved.
                const pins = readdirSync(stage).filter((d) => d.endsWith('.dist-info')).map((d) => d.slice(0, -'.dist-info'.length))
                    .map((d) => { const i = d.lastIndexOf('-'); return `${d.slice(0, i)}==${d.slice(i + 1)}`; })
                    .filter((pin) => !pin.startsWith('envls=='));
                writeFileSync(constraints, pins.join('\n') + '\n');
            }
            rmSync(join(stage, 'bin'), { recursive: true, force: true }); // console scripts for the build machine
            stages.push(stage);
        }
        merge(stages, libs);
        const version = wheel.split('-')[1];
        writeFileSync(join(libs, 'envls-bundle.json'), JSON.stringify({ target, pythons, envls: version, platforms }, null, 2) + '\n');
        mkdirSync(join(bundled, 'tool'), { recursive: true });
        cpSync(join(here, 'scripts', 'launch.py'), join(bundled, 'tool', 'launch.py'));
    } finally {
        rmSync(work, { recursive: true, force: true });
    }
    return libs;
}

/** On the target itself: import the server from the bundle with a listed Python, isolated from its site-packages. */
function smokeTest(python, libs, pythons) {
    const version = run(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).trim();
    if (!pythons.includes(version)) {
        console.log(`smoke test skipped: ${python} is Python ${version}, not in the bundle`);
        return;
    }
    const env = { ...process.env };
    delete env.PYTHONPATH;
    run(python, ['-s', '-c', `import sys; sys.path.insert(0, ${JSON.stringify(libs)}); import envls.lsp.server, envls, rattler, yaml, rpds; print("bundle imports on Python", sys.version.split()[0], "envls", envls.__version__)`],
        { env, stdio: 'inherit' });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    const target = option('target', currentTarget());
    const pythons = option('pythons', '3.10,3.11,3.12,3.13,3.14').split(',').map((v) => v.trim()).filter(Boolean);
    const venv = join(here, '..', '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
    const python = option('python', process.env.PYTHON || (existsSync(venv) ? venv : 'python3'));
    const source = option('source', join(here, '..'));
    const started = Date.now();
    const libs = bundle({ target, pythons, python, source });
    if (target === currentTarget()) {
        smokeTest(python, libs, pythons);
    }
    console.log(`bundled envls for ${target} (Python ${pythons.join(', ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s: ${libs}`);
}
