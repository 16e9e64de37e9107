import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
    affectsServer, channelChecksFromEnv, expandPath, needsRestart, SERVER_KEYS, serverSettings, SettingValue, solveTimeoutFromEnv,
} from '../../src/settings';

const defaults: Record<string, unknown> = {
    disable: [], logLevel: 'info', channelChecks: true, platforms: [], channelRefreshHours: 6, cacheDir: '', cudaVersion: '', condaPath: '',
    solve: true, solveTimeout: 10,
};

function reader(values: Record<string, unknown>, explicit: string[] = []) {
    return (key: (typeof SERVER_KEYS)[number]): SettingValue => ({ value: key in values ? values[key] : defaults[key], explicit: explicit.includes(key) });
}

describe('serverSettings', () => {
    it('maps every server setting, trust included', () => {
        const settings = serverSettings(reader({
            disable: ['pinned-build', 7], logLevel: 'debug', channelChecks: false, platforms: ['linux-64', 'osx-arm64'],
            channelRefreshHours: 1.5, cacheDir: '~/cache/envls', cudaVersion: ' 12.2 ', condaPath: '${workspaceFolder}/bin/micromamba',
            solve: false, solveTimeout: 30,
        }, ['channelChecks', 'solve', 'solveTimeout']), { trusted: false, env: {}, home: '/home/ada', workspaceFolder: '/ws' });
        assert.deepEqual(settings, {
            disable: ['pinned-build'], logLevel: 'debug', trusted: false, channelChecks: false, platforms: ['linux-64', 'osx-arm64'],
            channelRefreshHours: 1.5, cacheDir: '/home/ada/cache/envls', cudaVersion: '12.2', condaPath: '/ws/bin/micromamba',
            solve: false, solveTimeout: 30,
        });
    });
    it('leaves channelChecks to ENVLS_CHANNEL_CHECKS when nobody set it', () => {
        const off = serverSettings(reader({}), { trusted: true, env: { ENVLS_CHANNEL_CHECKS: '0' }, home: '/h' });
        assert.equal(off.channelChecks, false);
        const on = serverSettings(reader({}), { trusted: true, env: {}, home: '/h' });
        assert.equal(on.channelChecks, true);
        const set = serverSettings(reader({ channelChecks: true }, ['channelChecks']), { trusted: true, env: { ENVLS_CHANNEL_CHECKS: 'off' }, home: '/h' });
        assert.equal(set.channelChecks, true);
    });
    it('leaves solve and solveTimeout to ENVLS_SOLVE and ENVLS_SOLVE_TIMEOUT when nobody set them', () => {
        const fromEnv = serverSettings(reader({}), { trusted: true, env: { ENVLS_SOLVE: 'no', ENVLS_SOLVE_TIMEOUT: '2.5' }, home: '/h' });
        assert.equal(fromEnv.solve, false);
        assert.equal(fromEnv.solveTimeout, 2.5);
        const set = serverSettings(reader({ solve: true, solveTimeout: 20 }, ['solve', 'solveTimeout']),
            { trusted: true, env: { ENVLS_SOLVE: '0', ENVLS_SOLVE_TIMEOUT: '2.5' }, home: '/h' });
        assert.equal(set.solve, true);
        assert.equal(set.solveTimeout, 20);
        assert.equal(solveTimeoutFromEnv({ ENVLS_SOLVE_TIMEOUT: 'soon' }), 10);
        assert.equal(solveTimeoutFromEnv({ ENVLS_SOLVE_TIMEOUT: '-1' }), 10);
        assert.equal(solveTimeoutFromEnv({}), 10);
    });
    it('falls back to the defaults for values of the wrong type', () => {
        const settings = serverSettings(reader({ logLevel: 3, channelRefreshHours: -1, disable: 'x', cacheDir: 5 }), { trusted: true, env: {}, home: '/h' });
        assert.equal(settings.logLevel, 'info');
        assert.equal(settings.channelRefreshHours, 6);
        assert.deepEqual(settings.disable, []);
        assert.equal(settings.cacheDir, '');
    });
});

describe('helpers', () => {
    it('channelChecksFromEnv reads the variable as the server does', () => {
        for (const value of ['0', 'false', 'No', ' off ']) {
            assert.equal(channelChecksFromEnv({ ENVLS_CHANNEL_CHECKS: value }), false, value);
        }
        assert.equal(channelChecksFromEnv({ ENVLS_CHANNEL_CHECKS: '1' }), true);
        assert.equal(channelChecksFromEnv({}), true);
    });
    it('expandPath', () => {
        assert.equal(expandPath('~', '/h'), '/h');
        assert.equal(expandPath('~/x', '/h'), '/h/x');
        assert.equal(expandPath('${userHome}/x', '/h'), '/h/x');
        assert.equal(expandPath('a~/x', '/h'), 'a~/x');
        assert.equal(expandPath('${workspaceFolder}/x', '/h'), '${workspaceFolder}/x');
        assert.equal(expandPath('  ', '/h'), '');
    });
    it('which changes restart the server and which are sent to it', () => {
        const affects = (changed: string[]) => (section: string) => changed.some((c) => c === section || c.startsWith(`${section}.`) || section.startsWith(`${c}.`));
        assert.ok(needsRestart(affects(['envls.server.pythonPath'])));
        assert.ok(needsRestart(affects(['envls.documentSelector'])));
        assert.ok(needsRestart(affects(['envls.server.importStrategy'])));
        assert.ok(!needsRestart(affects(['envls.cudaVersion'])));
        assert.ok(affectsServer(affects(['envls.cudaVersion'])));
        assert.ok(!affectsServer(affects(['envls.server.pythonPath'])));
        assert.ok(!affectsServer(affects(['python.defaultInterpreterPath'])));
    });
});
