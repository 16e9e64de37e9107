import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { environmentName, stateFromLenses, statusText } from '../../src/envState';

describe('stateFromLenses (titles from envls/lsp/lenses.py)', () => {
    it('reads each state', () => {
        assert.deepEqual(stateFromLenses(['Create environment `demo`']), { kind: 'missing', name: 'demo' });
        assert.deepEqual(stateFromLenses(['Create environment'], 'x'), { kind: 'missing', name: 'x' });
        assert.deepEqual(stateFromLenses(['Create environment `demo`: fix 2 errors first']), { kind: 'missing', name: 'demo' });
        assert.deepEqual(stateFromLenses(['Update environment (in sync with this file)', 'Use as Python interpreter'], 'demo'),
            { kind: 'in-sync', name: 'demo' });
        assert.deepEqual(stateFromLenses(['Update environment (1 package out of date)'], 'demo'), { kind: 'drift', name: 'demo', outOfDate: 1 });
        assert.deepEqual(stateFromLenses(['Update environment (12 packages out of date)']), { kind: 'drift', name: undefined, outOfDate: 12 });
        assert.deepEqual(stateFromLenses([], 'demo'), { kind: 'unknown', name: 'demo' });
    });
    it('status text', () => {
        assert.equal(statusText({ kind: 'missing', name: 'demo' }, ''), '$(circle-slash) demo: not created');
        assert.equal(statusText({ kind: 'in-sync', name: 'demo' }, '12.2'), '$(check) demo · CUDA 12.2');
        assert.equal(statusText({ kind: 'drift', name: 'demo', outOfDate: 2 }, 'none'), '$(sync) demo: 2 out of date · no CUDA');
        assert.equal(statusText({ kind: 'unknown' }, ''), '$(package) environment');
    });
    it('environmentName', () => {
        assert.equal(environmentName('channels: []\nname: "demo"  # the env\n'), 'demo');
        assert.equal(environmentName('prefix: /opt/envs/x\n'), '/opt/envs/x');
        assert.equal(environmentName('dependencies: []\n'), undefined);
        assert.equal(environmentName('  name: nested\n'), undefined);
    });
});
