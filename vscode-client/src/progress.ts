/**
 * The server's `$/progress`, shown so that Cancel reaches the server.
 *
 * vscode-languageclient shows server-initiated progress in the status bar (ProgressLocation.Window),
 * where a cancellable progress has no Cancel button. This feature takes over
 * `window/workDoneProgress/create` (it is registered after the built-in one, so its handler wins on
 * every start): a cancellable progress becomes a notification with Cancel, which sends
 * `window/workDoneProgress/cancel`; other progress (loading channel data) stays in the status bar.
 * While a palette command waits for the server, the first cancellable progress the server begins is
 * shown in that command's own notification instead of a second one.
 */

import { CancellationToken, Disposable, Progress, ProgressLocation, window } from 'vscode';
import {
    BaseLanguageClient,
    ClientCapabilities,
    FeatureState,
    ProgressToken,
    StaticFeature,
    WorkDoneProgress,
    WorkDoneProgressBegin,
    WorkDoneProgressCancelNotification,
    WorkDoneProgressCreateRequest,
    WorkDoneProgressReport,
} from 'vscode-languageclient/node';

type Report = { message?: string; increment?: number };

/** A notification a palette command opened, waiting for the server's progress. */
export interface ProgressSink {
    progress: Progress<Report>;
    token: CancellationToken;
}

class Part {
    private sink: ProgressSink | undefined;
    private percent = 0;
    private finish: (() => void) | undefined;
    private readonly disposables: Disposable[] = [];
    private ended = false;

    constructor(
        private readonly client: BaseLanguageClient,
        readonly token: ProgressToken,
        private readonly takeSink: () => ProgressSink | undefined,
        private readonly onDone: (part: Part) => void,
    ) {
        this.disposables.push(client.onProgress(WorkDoneProgress.type, token, (value) => {
            switch (value.kind) {
                case 'begin':
                    this.begin(value);
                    break;
                case 'report':
                    this.report(value);
                    break;
                case 'end':
                    this.done();
                    break;
            }
        }));
    }

    private begin(params: WorkDoneProgressBegin): void {
        const sink = params.cancellable ? this.takeSink() : undefined;
        if (sink) {
            this.attach(sink, params);
            return;
        }
        void window.withProgress(
            {
                location: params.cancellable ? ProgressLocation.Notification : ProgressLocation.Window,
                title: params.title,
                cancellable: params.cancellable,
            },
            (progress, token) => {
                this.attach({ progress, token }, params);
                return new Promise<void>((resolve) => {
                    this.finish = resolve;
                    if (this.ended) {
                        resolve();
                    }
                });
            },
        );
    }

    private attach(sink: ProgressSink, params: WorkDoneProgressBegin): void {
        this.sink = sink;
        this.disposables.push(sink.token.onCancellationRequested(() => this.cancel()));
        if (sink.token.isCancellationRequested) {
            this.cancel();
        }
        this.report({ kind: 'report', message: params.message, percentage: params.percentage });
    }

    private cancel(): void {
        if (!this.ended) {
            void this.client.sendNotification(WorkDoneProgressCancelNotification.type, { token: this.token });
        }
    }

    private report(params: WorkDoneProgressReport): void {
        if (!this.sink) {
            return;
        }
        const report: Report = {};
        if (params.message) {
            report.message = params.message;
        }
        if (typeof params.percentage === 'number' && params.percentage > this.percent) {
            report.increment = params.percentage - this.percent;
            this.percent = params.percentage;
        }
        this.sink.progress.report(report);
    }

    done(): void {
        if (this.ended) {
            return;
        }
        this.ended = true;
        this.finish?.();
        this.disposables.forEach((d) => d.dispose());
        this.onDone(this);
    }
}

export class ServerProgress implements StaticFeature {
    private readonly parts = new Set<Part>();
    private waiting: ProgressSink | undefined;

    constructor(private readonly client: BaseLanguageClient) {}

    getState(): FeatureState {
        return { kind: 'static' };
    }

    fillClientCapabilities(capabilities: ClientCapabilities): void {
        capabilities.window = capabilities.window ?? {};
        capabilities.window.workDoneProgress = true;
    }

    initialize(): void {
        this.client.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
            this.parts.add(new Part(this.client, params.token, () => this.take(), (part) => this.parts.delete(part)));
        });
    }

    clear(): void {
        for (const part of [...this.parts]) {
            part.done();
        }
        this.parts.clear();
    }

    private take(): ProgressSink | undefined {
        const sink = this.waiting;
        this.waiting = undefined;
        return sink;
    }

    /** Runs `work` with `sink` ready for the server's next cancellable progress. */
    async withSink<T>(sink: ProgressSink, work: () => Promise<T>): Promise<T> {
        this.waiting = sink;
        try {
            return await work();
        } finally {
            if (this.waiting === sink) {
                this.waiting = undefined;
            }
        }
    }
}
