/**
 * Restarting the server after a crash, a bounded number of times.
 *
 * A crash within a minute or two of the last ones counts; once `max` restarts fall inside the window
 * the server stays down and the user is told (with a button to try again). A server that dies before
 * it ever answered `initialize` is not restarted at all: the same command would fail the same way.
 * No `vscode` import (unit-tested under Node).
 */

export class RestartCounter {
    private readonly times: number[] = [];

    constructor(
        readonly max = 5,
        readonly windowMs = 3 * 60 * 1000,
        private readonly now: () => number = Date.now,
    ) {}

    /** Records a crash; true while another restart is allowed. */
    crashed(): boolean {
        const now = this.now();
        while (this.times.length && now - this.times[0] > this.windowMs) {
            this.times.shift();
        }
        this.times.push(now);
        return this.times.length <= this.max;
    }

    /** Crashes inside the window. */
    get count(): number {
        return this.times.length;
    }

    reset(): void {
        this.times.length = 0;
    }
}

/** Coalesces restarts: one runs at a time, and requests made meanwhile become one more run. */
export class Coalescer {
    private running: Promise<void> | undefined;
    private again = false;

    constructor(private readonly task: () => Promise<void>) {}

    run(): Promise<void> {
        if (this.running) {
            this.again = true;
            return this.running;
        }
        this.running = (async () => {
            try {
                do {
                    this.again = false;
                    await this.task();
                } while (this.again);
            } finally {
                this.running = undefined;
            }
        })();
        return this.running;
    }
}
