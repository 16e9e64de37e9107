import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { stderrLine } from '../../src/stderr';

describe('stderrLine', () => {
    const info = '2026-11-25 12:27:16,213 INFO envls.lsp.server: envls 0.1.0 serving code-server';
    it('keeps envls lines until the server forwards its log itself', () => {
        assert.deepEqual(stderrLine(info, false), { level: 'info', text: 'envls.lsp.server: envls 0.1.0 serving code-server' });
        assert.equal(stderrLine(info, true), undefined);
        assert.equal(stderrLine('2026-11-25 12:27:16,213 ERROR envls: boom', true), undefined);
    });
    it('keeps other loggers at their level, without a second timestamp', () => {
        assert.deepEqual(stderrLine('2026-11-25 12:28:09,274 WARNING pygls.protocol.json_rpc: Cancel notification', true),
            { level: 'warn', text: 'pygls.protocol.json_rpc: Cancel notification' });
        assert.equal(stderrLine('2026-11-25 12:28:09,274 DEBUG asyncio: x', true)?.level, 'debug');
        assert.equal(stderrLine('2026-11-25 12:28:09,274 CRITICAL envlsx: x', true)?.level, 'error');
    });
    it('keeps anything else as an error, tracebacks included', () => {
        assert.deepEqual(stderrLine('Traceback (most recent call last):', true), { level: 'error', text: 'Traceback (most recent call last):' });
        assert.equal(stderrLine('ModuleNotFoundError: No module named pygls', false)?.level, 'error');
        assert.equal(stderrLine('   ', true), undefined);
    });
});
