import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Coalescer, RestartCounter } from '../../src/restart';

describe('RestartCounter', () => {
    it('allows max restarts inside the window, then stops', () => {
        let now = 0;
        const counter = new RestartCounter(3, 60_000, () => now);
        assert.deepEqual([counter.crashed(), counter.crashed(), counter.crashed(), counter.crashed()], [true, true, true, false]);
        assert.equal(counter.count, 4);
    });
    it('forgets crashes older than the window', () => {
        let now = 0;
        const counter = new RestartCounter(2, 60_000, () => now);
        counter.crashed();
        now = 30_000;
        counter.crashed();
        now = 61_000;
        assert.equal(counter.crashed(), true);
        assert.equal(counter.count, 2);
        now = 62_000;
        assert.equal(counter.crashed(), false);
    });
    it('reset starts over', () => {
        const counter = new RestartCounter(1, 60_000, () => 0);
        counter.crashed();
        assert.equal(counter.crashed(), false);
        counter.reset();
        assert.equal(counter.crashed(), true);
    });
});

describe('Coalescer', () => {
    it('runs once more for any number of requests made while running', async () => {
        let runs = 0;
        let release: () => void = () => undefined;
        const coalescer = new Coalescer(async () => {
            runs += 1;
            if (runs === 1) {
                await new Promise<void>((resolve) => { release = resolve; });
            }
        });
        const first = coalescer.run();
        const second = coalescer.run();
        const third = coalescer.run();
        assert.equal(first, second);
        assert.equal(second, third);
        release();
        await first;
        assert.equal(runs, 2);
        await coalescer.run();
        assert.equal(runs, 3);
    });
    it('a failing task does not wedge it', async () => {
        let runs = 0;
        const coalescer = new Coalescer(async () => {
            runs += 1;
            throw new Error('boom');
        });
        await assert.rejects(coalescer.run(), /boom/);
        await assert.rejects(coalescer.run(), /boom/);
        assert.equal(runs, 2);
    });
});
