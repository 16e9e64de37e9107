import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { Bundle, Candidate, launchPlan, parseBundle, parseProbe, Probe, pythonCandidates } from '../../src/python';

const home = '/home/ada';

describe('pythonCandidates', () => {
    it('uses only the setting when it is set', () => {
        assert.deepEqual(pythonCandidates({ setting: '/opt/py/bin/python', pythonExtension: '/x/python', platform: 'linux', home }),
            [{ command: '/opt/py/bin/python', source: 'setting' }]);
    });
    it('expands ~ and ${workspaceFolder} in the setting', () => {
        assert.deepEqual(pythonCandidates({ setting: '~/venv/bin/python', platform: 'linux', home }),
            [{ command: '/home/ada/venv/bin/python', source: 'setting' }]);
        assert.deepEqual(pythonCandidates({ setting: '${workspaceFolder}/.venv/bin/python', platform: 'linux', home, workspaceFolder: '/ws' }),
            [{ command: '/ws/.venv/bin/python', source: 'setting' }]);
    });
    it('then the Python extension, then python3 on PATH', () => {
        assert.deepEqual(pythonCandidates({ setting: '', pythonExtension: '/envs/a/bin/python', platform: 'linux', home }), [
            { command: '/envs/a/bin/python', source: 'python-extension' },
            { command: 'python3', source: 'path' },
        ]);
    });
    it('ignores a setting of only spaces', () => {
        assert.deepEqual(pythonCandidates({ setting: '  ', platform: 'darwin', home }), [{ command: 'python3', source: 'path' }]);
    });
    it('uses python on Windows', () => {
        assert.deepEqual(pythonCandidates({ platform: 'win32', home: 'C:\\Users\\ada' }), [{ command: 'python', source: 'path' }]);
    });
    it('does not list python3 twice', () => {
        assert.deepEqual(pythonCandidates({ pythonExtension: 'python3', platform: 'linux', home }),
            [{ command: 'python3', source: 'python-extension' }]);
    });
});

describe('parseProbe', () => {
    it('reads the last JSON line', () => {
        const out = 'noise\n{"version": [3, 11, 7], "executable": "/usr/bin/python3", "envls": "/src/envls/__init__.py"}\n';
        assert.deepEqual(parseProbe(out), { version: [3, 11, 7], executable: '/usr/bin/python3', envls: '/src/envls/__init__.py' });
    });
    it('rejects anything else', () => {
        assert.equal(parseProbe('Python 2.7.18'), undefined);
        assert.equal(parseProbe('{"version": "3.11"}'), undefined);
        assert.equal(parseProbe(''), undefined);
    });
});

describe('launchPlan', () => {
    const candidate: Candidate = { command: 'python3', source: 'path' };
    const probe = (version: [number, number, number], envls: string | null): Probe => ({ version, executable: '/usr/bin/python3', envls });
    const bundle = parseBundle('{"target": "linux-x64", "pythons": ["3.10", "3.11", "3.12"]}', '/ext/bundled') as Bundle;

    it('reads the bundle manifest', () => {
        assert.deepEqual(bundle, {
            target: 'linux-x64', pythons: ['3.10', '3.11', '3.12'],
            libs: path.join('/ext/bundled', 'libs'), launcher: path.join('/ext/bundled', 'tool', 'launch.py'),
        });
        assert.equal(parseBundle('{"pythons": []}', '/b'), undefined);
        assert.equal(parseBundle('not json', '/b'), undefined);
    });
    it('runs the installed envls with -m envls serve --stdio', () => {
        assert.deepEqual(launchPlan(candidate, probe([3, 11, 7], '/x/envls/__init__.py'), undefined, 'useBundled'),
            { command: 'python3', args: ['-m', 'envls', 'serve', '--stdio'], envls: 'environment' });
    });
    it('prefers the bundle for a Python it was built for', () => {
        const plan = launchPlan(candidate, probe([3, 12, 1], '/x/envls/__init__.py'), bundle, 'useBundled');
        assert.deepEqual(plan, { command: 'python3', args: [bundle.launcher, 'serve', '--stdio'], envls: 'bundled', libs: bundle.libs });
    });
    it('falls back to the installed envls for a Python the bundle lacks', () => {
        const plan = launchPlan(candidate, probe([3, 13, 0], '/x/envls/__init__.py'), bundle, 'useBundled');
        assert.ok(!('error' in plan) && plan.envls === 'environment');
    });
    it('ignores the bundle with fromEnvironment', () => {
        const plan = launchPlan(candidate, probe([3, 12, 1], '/x/envls/__init__.py'), bundle, 'fromEnvironment');
        assert.ok(!('error' in plan) && plan.envls === 'environment');
    });
    it('says what to do when envls is missing', () => {
        const plan = launchPlan(candidate, probe([3, 13, 0], null), bundle, 'useBundled');
        assert.ok('error' in plan);
        assert.match(plan.error, /envls is not installed in python3 \(from PATH\)/);
        assert.match(plan.error, /bundles envls for Python 3\.10, 3\.11, 3\.12 only/);
        assert.match(plan.error, /envls\.server\.pythonPath/);
    });
    it('refuses a Python older than 3.10, even with the bundle', () => {
        const plan = launchPlan({ command: '/opt/py38/bin/python', source: 'setting' }, probe([3, 8, 18], '/x'), bundle, 'useBundled');
        assert.ok('error' in plan);
        assert.match(plan.error, /needs Python 3\.10 or newer, but \/opt\/py38\/bin\/python \(from the envls\.server\.pythonPath setting\) is Python 3\.8\.18/);
    });
});
