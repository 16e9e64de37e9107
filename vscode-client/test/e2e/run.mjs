// End to end in a real VS Code: code-server (from npm) with the packaged .vsix in a fresh profile,
// driven by headless Debian Chromium through playwright-core. Nothing leaves 127.0.0.1: the conda
// channel for "Create Environment" is built here and served by this script.
//
//   node test/e2e/run.mjs        (from vscode-client/; `npm run test:e2e`)
//
// Environment:
//   ENVLS_E2E_PYTHON   the Python that runs envls (default: ../.venv/bin/python, this repo's envls)
//   ENVLS_E2E_CHANNEL_PYTHON  the Python that builds the test channel: it needs py-rattler-build, as
//                      the repo's test extras install it (default: ../.venv/bin/python)
//   ENVLS_E2E_VSIX     a .vsix to install (default: build the universal one with scripts/package.mjs)
//   CODE_SERVER        code-server binary (default: the one scripts/install-code-server.sh installs,
//                      under $ENVLS_CODE_SERVER_PREFIX or ~/.cache/envls-dev/code-server-4.100.3)
//   CHROMIUM           browser binary (default: /usr/bin/chromium)
//   ENVLS_E2E_KEEP=1   keep the temporary folder (profile, logs, workspace) for a look afterwards
//
// It checks: the squiggle and the Problems entry for `python==3.9` (suspicious-spec), a hover, a
// completion list with a top-level key, a quick fix that rewrites the spec, the palette commands,
// "Conda: Create Environment from File" with the embedded installer against the loopback channel
// (progress notification shown, interpreter set afterwards, a new terminal then has CONDA_PREFIX of the new
// environment), the workflow actions in the palette, the status bar item, and activation
// time (<= 500 ms, from the extension's log). Then, with channel checks on against the same loopback server: a
// quick fix renaming `chanels:`, after which the code lens and the channel findings follow within 2 s with no
// other edit; the outcome notification fully visible (and the progress one gone); no warnings in the log of a
// normal session, one timestamp per line. Screenshots go to test-results/.
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const repo = resolve(here, '..');
const results = join(here, 'test-results');
const started = Date.now();
const lap = (message) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s ${message}`);
const failures = [];
const check = (ok, what) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) {
        failures.push(what);
    }
};

const repoPython = process.env.ENVLS_E2E_CHANNEL_PYTHON || join(repo, '.venv', 'bin', 'python');
const python = process.env.ENVLS_E2E_PYTHON || repoPython;
const codeServerPrefix = process.env.ENVLS_CODE_SERVER_PREFIX
    || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'envls-dev', 'code-server-4.100.3');
const codeServer = process.env.CODE_SERVER || join(codeServerPrefix, 'node_modules', '.bin', 'code-server');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
for (const [what, path] of [['python', python], ['the repository venv', repoPython], ['code-server', codeServer], ['chromium', browserPath]]) {
    if (!existsSync(path)) {
        console.error(`missing ${what}: ${path}`);
        process.exit(2);
    }
}

function freePort() {
    return new Promise((resolvePort, reject) => {
        const server = createNetServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolvePort(port));
        });
    });
}

/** Static files under `root` on 127.0.0.1; package downloads are slowed so that the progress shows. */
function serve(root, delayMs, slowMs) {
    return new Promise((resolveServer) => {
        const server = createServer((req, res) => {
            const path = join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
            if (!path.startsWith(root) || !existsSync(path) || !statSync(path).isFile()) {
                res.writeHead(404).end();
                return;
            }
            const send = () => {
                res.writeHead(200, { 'content-length': statSync(path).size });
                createReadStream(path).pipe(res);
            };
            if (/\.(conda|tar\.bz2)$/.test(path)) {
                const timer = setTimeout(send, /e2e-slow/.test(path) ? slowMs : delayMs);
                req.on('close', () => clearTimeout(timer));
            } else {
                send();
            }
        });
        server.listen(0, '127.0.0.1', () => resolveServer(server));
    });
}

async function waitForHealth(url, ms) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        try {
            const res = await fetch(url);
            if (res.ok) {
                return;
            }
        } catch {
            // not up yet
        }
        await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`code-server did not come up: ${url}`);
}

function findFiles(dir, test, out = []) {
    if (!existsSync(dir)) {
        return out;
    }
    for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
            findFiles(path, test, out);
        } else if (test(path)) {
            out.push(path);
        }
    }
    return out;
}

/** Waits until the extension logged its activation under `logsDir`, or fails with the extension host's error. */
async function waitForActivation(logsDir) {
    for (let waited = 0; ; waited += 200) {
        const hostLog = findFiles(logsDir, (p) => p.endsWith('remoteexthost.log')).map((p) => readFileSync(p, 'utf8')).join('\n');
        const failed = /Activating extension envls\.envls failed[^\n]*\n[^\n]*/.exec(hostLog);
        if (failed) {
            throw new Error(`the extension failed to activate: ${failed[0]}`);
        }
        if (findFiles(logsDir, (p) => /envls\.log$/.test(p)).some((p) => /activated in/.test(readFileSync(p, 'utf8')))) {
            return;
        }
        if (waited > 20_000) {
            throw new Error('the extension did not activate within 20 s');
        }
        await new Promise((r) => setTimeout(r, 200));
    }
}

const ENVIRONMENT = `name: demo

channels:
  - conda-forge
dependencies:
  - python==3.9
  - numpy
  - pip:
      - requests
`;

// `chanels` (a typo): the configured channel is used until the quick fix renames the key; `e2e-lbi` is a typo too.
const TYPO = (channelUrl) => `name: e2e-typo
chanels:
  - ${channelUrl}
  - nodefaults
dependencies:
  - python
  - e2e-lib
  - e2e-lbi
`;

mkdirSync(results, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'envls-e2e-'));
const home = join(tmp, 'home');
const ws = join(tmp, 'ws');
for (const dir of [home, join(tmp, 'user', 'User'), join(tmp, 'ext'), join(ws, 'good'), join(ws, 'slow'), join(ws, 'typo')]) {
    mkdirSync(dir, { recursive: true });
}

let codeServerProcess;
let channelServer;
let context;
try {
    // The vsix under test.
    let vsix = process.env.ENVLS_E2E_VSIX;
    if (!vsix) {
        execFileSync(process.execPath, [join(here, 'scripts', 'package.mjs')], { cwd: here, stdio: ['ignore', 'ignore', 'inherit'] });
        const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
        vsix = join(here, `envls-${version}.vsix`);
    }
    lap(`vsix: ${vsix}`);

    // The loopback channel.
    execFileSync(repoPython, [join(here, 'test', 'e2e', 'make_channel.py'), join(tmp, 'site')], { stdio: ['ignore', 'ignore', 'inherit'] });
    channelServer = await serve(join(tmp, 'site'), 1500, 30_000);
    const channelUrl = `http://127.0.0.1:${channelServer.address().port}/channel`;
    lap(`channel: ${channelUrl}`);

    writeFileSync(join(ws, 'environment.yml'), ENVIRONMENT);
    writeFileSync(join(ws, 'good', 'environment.yml'), `name: e2e-demo\nchannels:\n  - ${channelUrl}\n  - nodefaults\ndependencies:\n  - python\n  - e2e-lib\n`);
    writeFileSync(join(ws, 'slow', 'environment.yml'), `name: e2e-slow\nchannels:\n  - ${channelUrl}\n  - nodefaults\ndependencies:\n  - e2e-slow\n`);
    writeFileSync(join(ws, 'typo', 'environment.yml'), TYPO(channelUrl));
    // Names resolve on the loopback server (where the configured channel does not exist), so that nothing leaves
    // 127.0.0.1 once channel checks are turned on; pip's index is there too.
    const site = `http://127.0.0.1:${channelServer.address().port}`;
    writeFileSync(join(tmp, 'condarc'), `channel_alias: ${site}/\ndefault_channels:\n  - ${site}/e2e-defaults\nchannels:\n  - e2e-missing\n`);
    writeFileSync(join(tmp, 'user', 'User', 'settings.json'), JSON.stringify({
        'envls.server.pythonPath': python,
        'security.workspace.trust.enabled': false,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'update.mode': 'none',
        'files.hotExit': 'off',
        'editor.hover.delay': 200,
        'workbench.enableExperiments': false,
        ...(process.env.ENVLS_E2E_TRACE ? { 'envls.trace.server': 'verbose' } : {}),
    }, null, 2));

    const common = ['--config', join(tmp, 'config.yaml'), '--user-data-dir', join(tmp, 'user'), '--extensions-dir', join(tmp, 'ext')];
    execFileSync(codeServer, [...common, '--install-extension', vsix], { stdio: ['ignore', 'ignore', 'inherit'] });
    lap('vsix installed');

    const port = await freePort();
    const env = {
        ...process.env,
        HOME: home,
        XDG_DATA_HOME: join(home, '.local', 'share'),
        XDG_CACHE_HOME: join(home, '.cache'),
        XDG_CONFIG_HOME: join(home, '.config'),
        CONDARC: join(tmp, 'condarc'),
        ENVLS_CACHE_DIR: join(tmp, 'envls-cache'),
        // conda-forge is out of reach here: no channel checks (the extension leaves this to the server's variable).
        ENVLS_CHANNEL_CHECKS: '0',
        // The hanging server below; long enough for a real start on a busy machine (the server may need 3 s then).
        ENVLS_START_TIMEOUT_MS: '8000',
        PIP_INDEX_URL: `${site}/simple/`,
        PIP_CONFIG_FILE: '/dev/null',
    };
    delete env.CONDA_EXE;
    delete env.MAMBA_EXE;
    delete env.CONDA_PREFIX;
    codeServerProcess = spawn(codeServer, [...common, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry',
        '--disable-update-check', '--disable-workspace-trust', ws], { env, detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
    await waitForHealth(`http://127.0.0.1:${port}/healthz`, 30_000);
    lap('code-server up');

    context = await chromium.launchPersistentContext(join(tmp, 'chromium'), {
        executablePath: browserPath,
        headless: true,
        viewport: { width: 1400, height: 900 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'],
    });
    let page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('.monaco-workbench');
    await page.waitForSelector('.explorer-folders-view .monaco-list-row');
    lap('workbench ready');
    // The extension activated (or say at once why not).
    await waitForActivation(join(tmp, 'user', 'logs'));
    lap('extension activated');

    const quickOpen = async (name) => {
        await page.keyboard.press('Control+P');
        await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
        await page.keyboard.type(name);
        await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${name.split('/').pop()}"]`);
        await page.waitForTimeout(200);
        await page.keyboard.press('Enter');
        await page.waitForSelector(`.tab.active[aria-label*="${name.split('/').pop()}"]`);
    };
    const editorLine = (text) => page.locator('.monaco-editor .view-lines .view-line', { hasText: text }).first();

    // Diagnostics: the squiggle, and the Problems panel.
    await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } }).catch(() => undefined);
    await quickOpen('environment.yml');
    await page.waitForSelector('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error', { timeout: 30_000 });
    lap('squiggle rendered');
    check(true, 'a squiggle in environment.yml');
    // The server's code lens (VS Code fetches lenses while the editor has focus: wait before moving on).
    await page.locator('.monaco-editor .codelens-decoration', { hasText: 'Create environment' }).first().waitFor({ timeout: 15_000 }).then(
        async () => check(true, `code lens: ${JSON.stringify(await page.locator('.monaco-editor .codelens-decoration').first().innerText())}`),
        () => check(false, 'no "Create environment" code lens'));
    await page.keyboard.press('Control+Shift+M');
    await page.waitForSelector('.markers-panel .monaco-list-row');
    await page.waitForFunction(() => [...document.querySelectorAll('.markers-panel .monaco-list-row')].some((r) => r.textContent.includes('suspicious-spec')));
    const problems = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
    check(problems.some((p) => p.includes('suspicious-spec') && p.includes('envls') && p.includes('==3.9')),
        `Problems lists envls suspicious-spec for python==3.9 (${problems.length} rows)`);
    check(problems.some((p) => p.includes('pip-not-listed')), 'Problems lists pip-not-listed');
    // The status bar item, which reads the code lens.
    await page.locator('.statusbar-item', { hasText: 'demo: not created' }).first().waitFor({ timeout: 15_000 }).then(
        () => check(true, 'the status bar shows "demo: not created"'),
        () => check(false, 'no status bar item "demo: not created"'));
    await page.screenshot({ path: join(results, 'e2e-diagnostics.png') });

    // Hover on a top-level key: the schema's description.
    await editorLine('channels:').locator('span', { hasText: 'channels' }).first().hover();
    const hover = page.locator('.monaco-hover:not(.hidden) .hover-contents, .monaco-hover:not(.hidden) .markdown-hover').first();
    await hover.waitFor({ state: 'visible', timeout: 15_000 });
    const hoverText = await hover.innerText();
    check(/channel/i.test(hoverText), `hover on channels: ${JSON.stringify(hoverText.slice(0, 80))}`);
    await page.screenshot({ path: join(results, 'e2e-hover.png') });
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');

    // Quick fix: `==3.9` -> `=3.9`.
    await editorLine('python==3.9').click();
    await page.keyboard.press('End');
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row', { hasText: '=3.9' }).first();
    await fix.waitFor({ state: 'visible', timeout: 15_000 });
    const fixTitle = await fix.getAttribute('aria-label') ?? await fix.innerText();
    // The menu sits under a pointer block: choose with the keyboard, as users do.
    for (let i = 0; i < 6 && !(await fix.getAttribute('class') ?? '').includes('focused'); i++) {
        await page.keyboard.press('ArrowDown');
    }
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('.monaco-editor .view-line')]
        .some((l) => l.textContent.replace(/\u00a0/g, ' ').trim() === '- python=3.9'), undefined, { timeout: 15_000 }).then(
        () => check(true, `quick fix "${fixTitle.trim()}" rewrote the line to - python=3.9`),
        () => check(false, `quick fix "${fixTitle.trim()}" did not rewrite the line`));

    // Completion of a top-level key on a new first line.
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Enter');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('.suggest-widget .monaco-list-row', { timeout: 15_000 });
    const suggestions = await page.locator('.suggest-widget .monaco-list-row').allInnerTexts();
    check(suggestions.some((s) => /^(prefix|platforms|variables)\b/.test(s.trim())), `completion offers a top-level key: ${JSON.stringify(suggestions.slice(0, 6).map((s) => s.split('\n')[0]))}`);
    await page.screenshot({ path: join(results, 'e2e-completion.png') });
    await page.keyboard.press('Escape');
    lap('hover, quick fix, completion done');

    // The palette: every command is there; "Create Environment from File" runs with the embedded installer.
    await quickOpen('good/environment.yml');
    await page.locator('.monaco-editor .codelens-decoration', { hasText: 'e2e-demo' }).first().waitFor({ timeout: 15_000 }).catch(() => undefined);
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type('Conda:');
    await page.waitForSelector('.quick-input-list .monaco-list-row');
    const palette = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
    for (const title of ['Conda: Create Environment from File', 'Conda: Update Environment', 'Conda: Select Environment as Python Interpreter',
        'Conda: Export Environment to File', 'Conda: Register Environment as Jupyter Kernel', 'Conda: Generate Dockerfile']) {
        check(palette.some((p) => p.includes(title)), `palette has "${title}"`);
    }
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.keyboard.type('envls:');
    await page.waitForSelector('.quick-input-list .monaco-list-row');
    const envlsCommands = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
    for (const title of ['envls: Restart Server', 'envls: Show Logs']) {
        check(envlsCommands.some((p) => p.includes(title)), `palette has "${title}"`);
    }
    await page.keyboard.press('Escape');

    const runCommand = async (title) => {
        await page.keyboard.press('F1');
        await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
        await page.keyboard.type(title);
        await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
        await page.keyboard.press('Enter');
    };
    const toast = (text) => page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
    // With no conda installed, a named environment goes to envls' own folder ($XDG_DATA_HOME/envls/envs).
    const prefix = join(home, '.local', 'share', 'envls', 'envs', 'e2e-demo');

    await runCommand('Conda: Create Environment from File');
    lap('create started');
    await toast('Creating the environment of').waitFor({ timeout: 20_000 }).then(
        () => check(true, 'a progress notification "Creating the environment of good/environment.yml"'),
        () => check(false, 'no progress notification'));
    const cancel = await toast('Creating the environment of').locator('a.monaco-button, .monaco-button', { hasText: 'Cancel' }).count();
    check(cancel > 0, 'the progress notification has Cancel');
    // The server's own $/progress messages arrive in this notification (not a second one).
    await page.waitForFunction(() => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
        .some((t) => /Creating the environment/.test(t.textContent) && /(Solving|Downloading|Linking)/.test(t.textContent)), undefined, { timeout: 20_000 }).then(
        async () => check(true, `the notification shows the server's progress: ${JSON.stringify(await toast('Creating the environment of').innerText())}`),
        () => check(false, "the notification never showed the server's progress"));
    await page.waitForTimeout(300); // the toast's fade-in
    await page.screenshot({ path: join(results, 'e2e-create-progress.png') });
    await Promise.race([
        toast('Created e2e-demo').waitFor({ timeout: 60_000 }),
        page.locator('.notifications-toasts .notification-toast .codicon-error').first().waitFor({ timeout: 60_000 })
            .then(() => { throw new Error('an error notification'); }),
    ]).then(
        () => check(true, 'the "created" notification'),
        async () => check(false, `no "created" notification: ${JSON.stringify(await page.locator('.notifications-toasts').innerText().catch(() => ''))}`));
    lap('create finished');
    // The outcome first and whole (the path is in the log), and the progress notification gone by then.
    const created = toast('Created e2e-demo').locator('.notification-list-item-message').first();
    const fits = await created.evaluate((e) => ({ text: e.textContent, scroll: e.scrollWidth, client: e.clientWidth })).catch(() => undefined);
    check(fits !== undefined && fits.scroll <= fits.client && /^Created e2e-demo; its Python is now the interpreter\.$/.test(fits.text),
        `the notification is fully visible at the default window width: ${JSON.stringify(fits)}`);
    const progressToasts = await page.locator('.notifications-toasts .notification-toast', { hasText: 'Creating the environment of' }).count();
    check(progressToasts === 0, `the progress notification has gone when the outcome is shown (${progressToasts} left)`);
    const folderSettings = join(ws, '.vscode', 'settings.json');
    const interpreter = existsSync(folderSettings) ? JSON.parse(readFileSync(folderSettings, 'utf8'))['python.defaultInterpreterPath'] : undefined;
    check(interpreter === join(prefix, 'bin', 'python') && existsSync(interpreter),
        `python.defaultInterpreterPath of the folder is the new environment's Python (${interpreter})`);
    check(existsSync(join(prefix, 'conda-meta', 'history')) && readdirSync(join(prefix, 'conda-meta')).some((f) => f.startsWith('e2e-lib-')),
        `the environment exists at ${prefix} with e2e-lib`);
    await page.screenshot({ path: join(results, 'e2e-created.png') });

    // The status bar follows the environment's state.
    await page.locator('.statusbar-item', { hasText: /^\W*e2e-demo$/ }).first().waitFor({ timeout: 15_000 }).then(
        () => check(true, 'the status bar shows the environment, in sync with the file (no CUDA part: the file has no CUDA packages)'),
        async () => check(false, `no status bar item "e2e-demo" in sync (${JSON.stringify(await page.locator('.statusbar-item', { hasText: 'e2e-demo' }).first().innerText().catch(() => ''))})`));
    const status = await page.locator('.statusbar-item', { hasText: 'e2e-demo' }).first().innerText().catch(() => '');
    lap(`status bar: ${JSON.stringify(status)}`);
    await page.screenshot({ path: join(results, 'e2e-final.png') });

    // A new terminal after Create starts activated (the extension's environment-variable collection).
    const terminalOut = join(tmp, 'terminal-prefix.txt');
    await runCommand('Terminal: Create New Terminal');
    await page.locator('.terminal-wrapper.active, .terminal-wrapper').first().waitFor({ timeout: 15_000 }).catch(() => undefined);
    await page.waitForTimeout(1500); // the shell's prompt
    await page.keyboard.type(`echo "$CONDA_PREFIX" > ${terminalOut}`);
    await page.keyboard.press('Enter');
    const terminalPrefix = await (async () => {
        for (let i = 0; i < 100; i++) {
            if (existsSync(terminalOut) && readFileSync(terminalOut, 'utf8').trim()) {
                return readFileSync(terminalOut, 'utf8').trim();
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        return '';
    })();
    check(terminalPrefix === prefix, `a new terminal has CONDA_PREFIX=${JSON.stringify(terminalPrefix)} (the new environment)`);
    await page.screenshot({ path: join(results, 'e2e-terminal.png') });
    await runCommand('View: Toggle Panel Visibility');
    lap('terminal checked');
    // State that follows the edit: with channel checks on (the folder's settings reach the running server), a
    // quick fix that renames `chanels` brings the file's own channel in: its findings and the code lens follow,
    // with no other edit.
    const folderSettingsPath = join(ws, '.vscode', 'settings.json');
    writeFileSync(folderSettingsPath, JSON.stringify({ ...JSON.parse(readFileSync(folderSettingsPath, 'utf8')), 'envls.channelChecks': true }, null, 2));
    await runCommand('Notifications: Clear All Notifications');
    await quickOpen('typo/environment.yml');
    const lensTexts = () => page.locator('.monaco-editor .codelens-decoration').allInnerTexts();
    await page.waitForFunction(() => [...document.querySelectorAll('.monaco-editor .codelens-decoration')]
        .some((l) => /e2e-missing does not exist/.test(l.textContent)), undefined, { timeout: 30_000 }).then(
        async () => check(true, `before the fix, the lens reads the configured channel: ${JSON.stringify(await lensTexts())}`),
        async () => check(false, `no lens for the configured channel: ${JSON.stringify(await lensTexts())}`));
    if (!(await page.locator('.markers-panel').isVisible().catch(() => false))) {
        await page.keyboard.press('Control+Shift+M');
        await editorLine('chanels:').click();
    }
    await editorLine('chanels:').click();
    await page.keyboard.press('Home');
    await page.keyboard.press('Control+.');
    const rename = page.locator('.action-widget .monaco-list-row', { hasText: 'Rename to' }).first();
    await rename.waitFor({ state: 'visible', timeout: 15_000 });
    for (let i = 0; i < 6 && !(await rename.getAttribute('class') ?? '').includes('focused'); i++) {
        await page.keyboard.press('ArrowDown');
    }
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('.monaco-editor .view-line')]
        .some((l) => l.textContent.replace(/\u00a0/g, ' ').trim() === 'channels:'), undefined, { timeout: 10_000 });
    const fixed = Date.now();
    const [lensMs, findingMs] = await Promise.all([
        page.waitForFunction(() => {
            const lenses = [...document.querySelectorAll('.monaco-editor .codelens-decoration')].map((l) => l.textContent);
            return lenses.some((l) => /solve/i.test(l)) && !lenses.some((l) => /e2e-missing/.test(l));
        }, undefined, { timeout: 15_000 }).then(() => Date.now() - fixed, () => undefined),
        page.waitForFunction(() => [...document.querySelectorAll('.markers-panel .monaco-list-row')]
            .some((r) => r.textContent.includes('package-not-found') && r.textContent.includes('e2e-lbi')), undefined, { timeout: 15_000 })
            .then(() => Date.now() - fixed, () => undefined),
    ]);
    check(lensMs !== undefined && lensMs <= 2000, `after the quick fix, the lens follows the file's channel within 2 s (${lensMs} ms): ${JSON.stringify(await lensTexts())}`);
    check(findingMs !== undefined && findingMs <= 2000, `after the quick fix, package-not-found for e2e-lbi within 2 s (${findingMs} ms)`);
    await page.screenshot({ path: join(results, 'e2e-quick-fix-follows.png') });
    // A normal session (open, check, fix, create) leaves no warnings or errors in the log.
    const normalLog = findFiles(join(tmp, 'user', 'logs'), (p) => /envls\.log$/.test(p)).map((p) => readFileSync(p, 'utf8')).join('\n');
    const noisy = normalLog.split('\n').filter((l) => /\[(warning|error)\]/.test(l));
    check(noisy.length === 0, `the log has no warnings or errors in a normal session: ${JSON.stringify(noisy.slice(0, 40))}`);
    const stamps = normalLog.split('\n').filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[\w+\] .*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}/.test(l));
    check(stamps.length === 0, `one timestamp per log line: ${JSON.stringify(stamps.slice(0, 3))}`);
    lap('quick fix followed');

    // Cancel reaches the server: the create stops, and nothing is left behind.
    await runCommand('Notifications: Clear All Notifications');
    await quickOpen('slow/environment.yml');
    await runCommand('Conda: Create Environment from File');
    await page.waitForFunction(() => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
        .some((t) => /Creating the environment of/.test(t.textContent) && /Downloading/.test(t.textContent)), undefined, { timeout: 20_000 });
    await toast('Creating the environment of').getByRole('button', { name: 'Cancel' }).click();
    await toast('was cancelled').waitFor({ timeout: 20_000 }).then(
        async () => check(!existsSync(join(home, '.local', 'share', 'envls', 'envs', 'e2e-slow')), `Cancel stopped the create: ${JSON.stringify(await toast('was cancelled').innerText())}; no e2e-slow environment`),
        () => check(false, 'Cancel did not stop the create'));
    lap('cancelled create');


    // A crash: the server is started again (a bounded number of times), and serves again.
    const logText = () => findFiles(join(tmp, 'user', 'logs'), (p) => /envls\.log$/.test(p)).map((p) => readFileSync(p, 'utf8')).join('\n');
    const servers = execFileSync('ps', ['-o', 'pid=,args=', '-g', String(codeServerProcess.pid)], { encoding: 'utf8' })
        .split('\n').filter((l) => /(envls|launch\.py) serve --stdio/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
    check(servers.length === 1, `one envls server process (${servers.length})`);
    process.kill(servers[0], 'SIGKILL');
    const restarted = await (async () => {
        for (let i = 0; i < 100; i++) {
            if (/server running again after a restart/.test(logText())) {
                return true;
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        return false;
    })();
    check(restarted && /stopped unexpectedly; restarting it \(1 of 5/.test(logText()), 'after a crash the server was restarted (1 of 5)');
    await quickOpen('environment.yml');
    await page.locator('.statusbar-item', { hasText: 'demo: not created' }).first().waitFor({ timeout: 15_000 }).then(
        () => check(true, 'the restarted server serves the file again'), () => check(false, 'no status from the restarted server'));
    lap('crash and restart done');

    // Bad input: each Python below gets one clear message, and the editor stays responsive.
    const fake = (name, version, serve) => {
        const path = join(tmp, name);
        writeFileSync(path, `#!/bin/bash
if [ "$1" = -c ]; then
  case "$2" in
    *find_spec*) echo '{"version": [${version}], "executable": "${path}", "envls": "/fake/envls/__init__.py"}'; exit 0 ;;
    *) echo "ModuleNotFoundError: No module named 'pygls'" >&2; exit 1 ;;
  esac
fi
${serve}
`, { mode: 0o755 });
        return path;
    };
    const badPythons = [
        ['/nonexistent/bin/python3', /No Python at \/nonexistent\/bin\/python3/],
        [fake('python38', '3, 8, 18', 'exit 1'), /needs Python 3\.10 or newer, but .*python38 .* is Python 3\.8\.18/],
        [fake('crashing', '3, 11, 0', 'echo "Traceback (most recent call last):" >&2; echo "ModuleNotFoundError: No module named \'pygls\'" >&2; exit 1'),
            /envls could not start with .*crashing \(Python 3\.11\.0\): ModuleNotFoundError: No module named 'pygls'/],
        [fake('hanging', '3, 11, 0', 'exec sleep 600'), /envls did not answer within 8 seconds/],
    ];
    // Through the folder's settings: VS Code watches the workspace (a write to the user settings file
    // from outside is not noticed by code-server).
    const folderSettingsFile = join(ws, '.vscode', 'settings.json');
    const settings = JSON.parse(readFileSync(folderSettingsFile, 'utf8'));
    await quickOpen('environment.yml');
    for (const [badPython, expected] of badPythons) {
        await runCommand('Notifications: Clear All Notifications');
        writeFileSync(folderSettingsFile, JSON.stringify({ ...settings, 'envls.server.pythonPath': badPython }, null, 2));
        const message = page.locator('.notifications-toasts .notification-toast', { hasText: expected }).first();
        await message.waitFor({ timeout: 20_000 }).then(
            async () => check(true, `one message for ${badPython.split('/').pop()}: ${JSON.stringify(await message.locator('.notification-list-item-message').innerText())}`),
            async () => check(false, `no message matching ${expected} (${JSON.stringify(await page.locator('.notifications-toasts').innerText().catch(() => ''))})`));
        const count = await page.locator('.notifications-toasts .notification-toast .codicon-error').count();
        check(count === 1, `exactly one error notification (${count})`);
    }
    // Still responsive: typing reaches the editor.
    await editorLine('name:').click();
    await page.keyboard.press('End');
    await page.keyboard.type('-typed');
    await page.waitForFunction(() => [...document.querySelectorAll('.monaco-editor .view-line')].some((l) => l.textContent.includes('demo-typed')), undefined, { timeout: 5_000 }).then(
        () => check(true, 'the editor stays responsive'), () => check(false, 'the editor did not take typing'));
    await page.screenshot({ path: join(results, 'e2e-bad-python.png') });
    lap('bad Pythons done');

    // Activation time, from the extension's own log.
    const logs = findFiles(join(tmp, 'user', 'logs'), (p) => /envls\.log$/.test(p));
    const log = logs.map((p) => readFileSync(p, 'utf8')).join('\n');
    writeFileSync(join(results, 'envls.log'), log);
    const activated = /activated in (\d+) ms/.exec(log);
    check(activated !== null && Number(activated[1]) <= 500, `the extension activated in ${activated?.[1]} ms (<= 500)`);
    const ready = /server running after (\d+) ms/.exec(log);
    lap(`server running ${ready?.[1]} ms after the start began`);

    // Restricted Mode: a second code-server with workspace trust on, and a folder nobody trusted yet.
    await context.close();
    process.kill(-codeServerProcess.pid, 'SIGTERM');
    const untrusted = join(tmp, 'untrusted');
    const user2 = join(tmp, 'user2');
    mkdirSync(untrusted);
    mkdirSync(join(user2, 'User'), { recursive: true });
    writeFileSync(join(untrusted, 'environment.yml'), ENVIRONMENT);
    writeFileSync(join(user2, 'User', 'settings.json'), JSON.stringify({
        ...JSON.parse(readFileSync(join(tmp, 'user', 'User', 'settings.json'), 'utf8')),
        'security.workspace.trust.enabled': true,
        'security.workspace.trust.startupPrompt': 'never',
    }, null, 2));
    const port2 = await freePort();
    codeServerProcess = spawn(codeServer, ['--config', join(tmp, 'config.yaml'), '--user-data-dir', user2, '--extensions-dir', join(tmp, 'ext'),
        '--bind-addr', `127.0.0.1:${port2}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', untrusted],
    { env, detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
    await waitForHealth(`http://127.0.0.1:${port2}/healthz`, 30_000);
    context = await chromium.launchPersistentContext(join(tmp, 'chromium2'), {
        executablePath: browserPath, headless: true, viewport: { width: 1400, height: 900 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`http://127.0.0.1:${port2}/?folder=${encodeURIComponent(untrusted)}`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('.explorer-folders-view .monaco-list-row');
    await waitForActivation(join(user2, 'logs'));
    lap('Restricted Mode: workbench ready');
    const log2 = () => findFiles(join(user2, 'logs'), (p) => /envls\.log$/.test(p)).map((p) => readFileSync(p, 'utf8')).join('\n');
    await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } }).catch(() => undefined);
    await quickOpen('environment.yml');
    await page.waitForSelector('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error').then(
        () => check(true, 'Restricted Mode: diagnostics still shown'), () => check(false, 'Restricted Mode: no diagnostics'));
    check(/workspace not trusted \(Restricted Mode\): the server is told/.test(log2()), 'Restricted Mode: the server was started with trusted: false');
    await page.keyboard.press('F1');
    await page.keyboard.type('Conda:');
    await page.waitForTimeout(500);
    const restrictedPalette = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
    check(!restrictedPalette.some((p) => /Create Environment|Update Environment|Select Environment/.test(p)),
        `Restricted Mode: no Conda commands in the palette (${JSON.stringify(restrictedPalette.map((p) => p.split('\n')[0]))})`);
    await page.keyboard.press('Escape');
    const restrictedLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Create environment' }).first();
    await restrictedLens.waitFor({ timeout: 15_000 }).then(async () => {
        const title = await restrictedLens.innerText();
        check(/trust the workspace first/.test(title), `Restricted Mode: the lens says why: ${JSON.stringify(title)}`);
        await restrictedLens.click();
        await toast('Restricted Mode').waitFor({ timeout: 10_000 }).then(
            () => check(true, 'Restricted Mode: the code lens explains instead of running conda'),
            () => check(false, 'Restricted Mode: clicking the lens gave no explanation'));
    }, () => check(false, 'Restricted Mode: no code lens'));
    await page.screenshot({ path: join(results, 'e2e-restricted.png') });
    await runCommand('Notifications: Clear All Notifications');
    // Granting trust tells the server and enables the commands.
    await runCommand('Workspaces: Manage Workspace Trust');
    await page.getByRole('button', { name: /^Trust/ }).first().click();
    for (let i = 0; i < 50 && !/workspace trusted: telling the server/.test(log2()); i++) {
        await page.waitForTimeout(100);
    }
    check(/workspace trusted: telling the server/.test(log2()), 'granting trust tells the server');
    await page.keyboard.press('F1');
    await page.keyboard.type('Conda: Create');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Create Environment from File' }).first().waitFor({ timeout: 10_000 }).then(
        () => check(true, 'once trusted, "Conda: Create Environment from File" is in the palette'),
        () => check(false, 'once trusted, the palette still lacks the Conda commands'));
    await page.keyboard.press('Escape');
    lap('Restricted Mode done');
} catch (err) {
    failures.push(String(err?.stack ?? err));
    console.error(err);
    const page = context?.pages()[0];
    await page?.screenshot({ path: join(results, 'e2e-failure.png') }).catch(() => undefined);
    for (const p of findFiles(join(tmp, 'user', 'logs'), (f) => /envls\.log$|exthost\.log$|remoteexthost\.log$/.test(f))) {
        copyFileSync(p, join(results, p.split('/').slice(-2).join('-')));
    }
} finally {
    await context?.close().catch(() => undefined);
    if (codeServerProcess?.pid && codeServerProcess.exitCode === null) {
        try {
            process.kill(-codeServerProcess.pid, 'SIGTERM'); // code-server's own process group: extension hosts and envls too
        } catch {
            // already gone
        }
    }
    channelServer?.close();
    if (process.env.ENVLS_E2E_KEEP) {
        console.log(`kept ${tmp}`);
    } else {
        await new Promise((r) => setTimeout(r, 500));
        rmSync(tmp, { recursive: true, force: true });
    }
}
lap(failures.length ? `${failures.length} check(s) failed` : 'all checks passed');
process.exit(failures.length ? 1 : 0);
