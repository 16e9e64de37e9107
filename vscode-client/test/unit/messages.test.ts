import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { cudaSentence, environmentLabel, outcomeMessage, selectedMessage } from '../../src/messages';

describe('messages', () => {
    it('lead with the outcome and leave the path out', () => {
        assert.equal(environmentLabel('/tmp/x/home/.local/share/envls/envs/greet-demo'), 'greet-demo');
        assert.equal(environmentLabel('/opt/envs/demo/'), 'demo');
        assert.equal(environmentLabel('C:\\envs\\demo'), 'demo');
        assert.equal(outcomeMessage('created', 'greet-demo', true), 'Created greet-demo; its Python is now the interpreter.');
        assert.equal(outcomeMessage('created', 'tools', false, false), 'Created tools; it has no Python to use as the interpreter.');
        assert.equal(outcomeMessage('updated', 'demo', false), 'Updated demo.');
        assert.equal(selectedMessage('demo'), 'The Python of demo is now the interpreter.');
    });
    it('word the CUDA target as a sentence', () => {
        assert.equal(cudaSentence('12.2', 'detected', 'linux-64'),
            "CUDA packages are checked against CUDA 12.2, the version the driver of the server's machine (linux-64) supports.");
        assert.equal(cudaSentence('11.8', 'setting', 'linux-64'), 'CUDA packages are checked against CUDA 11.8, set by the envls.cudaVersion setting.');
        assert.equal(cudaSentence('12.0', 'CONDA_OVERRIDE_CUDA', undefined), 'CUDA packages are checked against CUDA 12.0, set by CONDA_OVERRIDE_CUDA.');
        assert.equal(cudaSentence('none', 'none', 'linux-64'),
            "No CUDA driver was found on the server's machine (linux-64), so CUDA packages are checked as for a machine without a GPU.");
        assert.match(cudaSentence('none', 'setting', 'linux-64'), /^The envls\.cudaVersion setting says the target has no CUDA driver/);
        assert.match(cudaSentence('', undefined, 'osx-arm64'), /once it has been detected\.$/);
        for (const sentence of [cudaSentence('12.2', 'detected', 'linux-64'), cudaSentence('none', 'none', undefined)]) {
            assert.ok(!/`|\(none\)/.test(sentence), sentence);
        }
    });
});
