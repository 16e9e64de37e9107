/**
 * Starting, restarting and stopping envls: which Python runs it, the LanguageClient and its options,
 * settings for the server, crashes, and the one message a user gets when it cannot run.
 */

import { execFile } from 'node:child_process';
import * as readline from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
    commands,
    ConfigurationScope,
    EventEmitter,
    ExtensionContext,
    LogOutputChannel,
    TextDocument,
    Uri,
    window,
    workspace,
} from 'vscode';
import {
    CloseAction,
    CloseHandlerResult,
    DidChangeConfigurationNotification,
    DocumentSelector,
    ErrorAction,
    ErrorHandlerResult,
    LanguageClient,
    LanguageClientOptions,
    Message,
    RevealOutputChannelOn,
    ServerOptions,
    State,
} from 'vscode-languageclient/node';

import { selectedInterpreter } from './interpreter';
import { ServerProgress } from './progress';
import {
    Bundle,
    Candidate,
    describeSource,
    ImportStrategy,
    LaunchPlan,
    launchPlan,
    parseBundle,
    parseProbe,
    Probe,
    PROBE,
    pythonCandidates,
    versionText,
} from './python';
import { RestartCounter } from './restart';
import { buildSelector, isEnvironmentFile, Selector } from './selector';
import { SERVER_KEYS, ServerSettings, serverSettings, SettingValue } from './settings';
import { stderrLine } from './stderr';

const PROBE_TIMEOUT_MS = 15_000;
// How long the server may take to answer `initialize`; ENVLS_START_TIMEOUT_MS (in the editor's
// environment) shortens it for tests.
const START_TIMEOUT_MS = Number(process.env.ENVLS_START_TIMEOUT_MS) > 0 ? Number(process.env.ENVLS_START_TIMEOUT_MS) : 30_000;

/**
 * A LanguageClient that leaves the messages about a failed start to ServerManager: the library would
 * add "couldn't create connection to server" and the raw JSON-RPC error on top of ours.
 */
class EnvlsClient extends LanguageClient {
    starting = true;

    override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
        super.error(message, data, this.starting ? false : showNotification);
    }
}

/** What the palette and the code lenses do with the server's create/update/select commands. */
export type CommandHook = (command: string, args: unknown[]) => Promise<unknown>;

export class ServerManager {
    client: LanguageClient | undefined;
    progress: ServerProgress | undefined;
    plan: (LaunchPlan & { python: string; version: string }) | undefined;
    selector: Selector = buildSelector(undefined);
    private readonly crashes = new RestartCounter(5, 3 * 60 * 1000);
    private readonly changed = new EventEmitter<LanguageClient | undefined>();
    /** Fires when a client starts running or the server stops. */
    readonly onDidChange = this.changed.event;
    commandHook: CommandHook | undefined;
    /** Restarts through the extension's coalescing restarter (the "Restart" button of a failure message). */
    restartHook: ((why: string) => void) | undefined;

    constructor(
        private readonly context: ExtensionContext,
        readonly log: LogOutputChannel,
    ) {
        context.subscriptions.push(this.changed);
    }

    /** The `envls` section for the server, for a resource or for the window. */
    settings(scope?: ConfigurationScope): ServerSettings {
        const config = workspace.getConfiguration('envls', scope);
        const folder = scope instanceof Uri ? workspace.getWorkspaceFolder(scope) : undefined;
        const read = (key: (typeof SERVER_KEYS)[number]): SettingValue => {
            const inspected = config.inspect(key);
            const explicit = inspected !== undefined && [
                inspected.globalValue, inspected.workspaceValue, inspected.workspaceFolderValue,
                inspected.globalLanguageValue, inspected.workspaceLanguageValue, inspected.workspaceFolderLanguageValue,
            ].some((v) => v !== undefined);
            return { value: config.get(key), explicit };
        };
        return serverSettings(read, {
            trusted: workspace.isTrusted,
            env: process.env,
            home: os.homedir(),
            workspaceFolder: (folder ?? workspace.workspaceFolders?.[0])?.uri.fsPath,
        });
    }

    /** Pushes the current settings (and trust) to the running server. */
    async sendSettings(): Promise<void> {
        const client = this.client;
        if (client?.state === State.Running) {
            await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { envls: this.settings() } });
        }
    }

    /** True when the document is an environment file as the server sees it (by name, or YAML by content). */
    serves(document: TextDocument): boolean {
        return isEnvironmentFile(document.fileName, document.getText());
    }

    isRunning(): boolean {
        return this.client?.state === State.Running;
    }

    async start(): Promise<void> {
        const started = Date.now();
        this.crashes.reset();
        const config = workspace.getConfiguration('envls');
        this.selector = buildSelector(config.get('documentSelector'));
        this.selector.problems.forEach((p) => this.log.warn(p));

        const plan = await this.findPython(config.get<ImportStrategy>('server.importStrategy', 'useBundled'));
        if (!plan) {
            return;
        }
        this.plan = plan;
        this.log.info(`starting: ${plan.command} ${plan.args.join(' ')} (Python ${plan.version}, envls from ${plan.envls === 'bundled' ? 'the extension' : 'that Python'})`);
        this.log.info(`workspace ${workspace.isTrusted ? 'trusted' : 'not trusted (Restricted Mode)'}: the server is told`);

        const serverOptions: ServerOptions = {
            command: plan.command,
            args: plan.args,
            options: { cwd: workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir(), env: { ...process.env } },
        };
        let reachedRunning = false;
        const client = new EnvlsClient('envls', 'envls', serverOptions, this.clientOptions(() => reachedRunning));
        this.progress = new ServerProgress(client);
        client.registerFeature(this.progress);
        client.onDidChangeState((e) => {
            if (e.newState === State.Running) {
                if (reachedRunning) {
                    this.log.info('server running again after a restart');
                }
                reachedRunning = true;
                client.starting = false;
            }
            if (this.client === client) {
                this.changed.fire(e.newState === State.Running ? client : undefined);
            }
        });
        this.client = client;

        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), START_TIMEOUT_MS);
        });
        try {
            const outcome = await Promise.race([client.start().then(() => 'started' as const), timeout]);
            if (outcome === 'timeout') {
                this.log.error(`the server did not answer initialize within ${START_TIMEOUT_MS / 1000} s; stopping it`);
                client.serverProcess?.kill('SIGKILL');
                this.fail(`envls did not answer within ${START_TIMEOUT_MS / 1000} seconds after it was started with ${plan.command}, and was stopped. ` +
                    'The log (envls: Show Logs) has what it wrote.');
                return;
            }
        } catch (err) {
            this.log.error(`the server failed to start: ${err}`);
            const reason = await this.whyNoStart(plan.command, plan);
            this.fail(`envls could not start with ${plan.command} (Python ${plan.version}): ${reason}`);
            return;
        } finally {
            clearTimeout(timer);
        }
        this.log.info(`server running after ${Date.now() - started} ms`);
    }

    async stop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        this.progress = undefined;
        this.changed.fire(undefined);
        if (!client) {
            return;
        }
        try {
            if (client.state === State.Running) {
                await client.stop(2000);
            } else {
                client.serverProcess?.kill('SIGKILL');
            }
        } catch (err) {
            this.log.warn(`stopping the server: ${err}`);
            client.serverProcess?.kill('SIGKILL');
        }
        try {
            await client.dispose(0);
        } catch {
            // Already stopped: dispose only marks it.
        }
    }

    private clientOptions(reachedRunning: () => boolean): LanguageClientOptions {
        const guard = (document: TextDocument) => this.serves(document);
        return {
            // Every filter has a language, a scheme or a pattern (buildSelector drops the others).
            documentSelector: this.selector.filters as DocumentSelector,
            outputChannel: this.log,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            stdioOptions: {
                // Used only by transports other than stdio (where stdout is the LSP stream).
                stdout: (input, log) => {
                    readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', (line) => log.info(line));
                },
                stderr: (input, log) => {
                    readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', (line) => {
                        // Once running, the server sends its envls.* log lines as window/logMessage too.
                        const kept = stderrLine(line, reachedRunning());
                        if (kept) {
                            log[kept.level](kept.text);
                        }
                    });
                },
            },
            initializationOptions: this.settings(),
            synchronize: { configurationSection: 'envls' },
            // A failed initialize is reported by start(), once.
            initializationFailedHandler: (error) => {
                this.log.error(`initialize failed: ${error}`);
                return false;
            },
            errorHandler: {
                error: (_error: Error, _message: Message | undefined, count: number | undefined): ErrorHandlerResult => ({
                    action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
                }),
                closed: (): CloseHandlerResult => this.closed(reachedRunning()),
            },
            middleware: {
                workspace: {
                    // The server asks for the `envls` section: answer with what it understands, trust included.
                    configuration: async (params, token, next) => {
                        const answer = await next(params, token);
                        if (!Array.isArray(answer)) {
                            return answer;
                        }
                        return params.items.map((item, i) =>
                            item.section === 'envls' ? this.settings(item.scopeUri ? Uri.parse(item.scopeUri) : undefined) : answer[i]);
                    },
                    didChangeConfiguration: async () => {
                        await this.sendSettings();
                    },
                },
                provideCompletionItem: (document, position, context, token, next) =>
                    guard(document) ? next(document, position, context, token) : undefined,
                provideHover: (document, position, token, next) =>
                    guard(document) ? next(document, position, token) : undefined,
                provideCodeActions: (document, range, context, token, next) =>
                    guard(document) ? next(document, range, context, token) : undefined,
                provideDocumentSymbols: (document, token, next) =>
                    guard(document) ? next(document, token) : undefined,
                // Code lenses run the server's commands: give them the palette's progress and interpreter handling.
                executeCommand: (command, args, next) =>
                    this.commandHook ? this.commandHook(command, args) : next(command, args),
            },
        };
    }

    private closed(reachedRunning: boolean): CloseHandlerResult {
        if (!reachedRunning) {
            // Never initialized: start() reports why; restarting would fail the same way.
            return { action: CloseAction.DoNotRestart, handled: true };
        }
        if (this.crashes.crashed()) {
            this.log.warn(`the server stopped unexpectedly; restarting it (${this.crashes.count} of ${this.crashes.max} in 3 minutes)`);
            return { action: CloseAction.Restart, handled: true };
        }
        this.fail(`envls stopped unexpectedly ${this.crashes.count} times in 3 minutes and was not restarted again. ` +
            'The log (envls: Show Logs) has what it wrote.');
        return { action: CloseAction.DoNotRestart, handled: true };
    }

    /** One message, with what to do about it; not awaited, so that a restart need not wait for the user. */
    private fail(message: string): void {
        this.log.error(message);
        void window.showErrorMessage(message, 'Show Logs', 'Settings', 'Restart').then((choice) => {
            if (choice === 'Show Logs') {
                this.log.show(true);
            } else if (choice === 'Settings') {
                void commands.executeCommand('workbench.action.openSettings', 'envls.server');
            } else if (choice === 'Restart') {
                this.restartHook?.('asked for after a failure');
            }
        });
    }

    private bundle(): Bundle | undefined {
        const bundled = this.context.asAbsolutePath('bundled');
        const manifest = path.join(bundled, 'libs', 'envls-bundle.json');
        if (!existsSync(manifest)) {
            return undefined;
        }
        return parseBundle(readFileSync(manifest, 'utf8'), bundled);
    }

    /** The first candidate Python that can run envls, each step logged; a message when none can. */
    private async findPython(strategy: ImportStrategy): Promise<(LaunchPlan & { python: string; version: string }) | undefined> {
        const config = workspace.getConfiguration('envls');
        const setting = config.get<string>('server.pythonPath', '');
        const fromExtension = setting ? undefined : await withTimeout(selectedInterpreter(this.log), 10_000);
        const candidates = pythonCandidates({
            setting,
            pythonExtension: fromExtension,
            platform: process.platform,
            home: os.homedir(),
            workspaceFolder: workspace.workspaceFolders?.[0]?.uri.fsPath,
        });
        const bundle = this.bundle();
        this.log.info(bundle
            ? `bundled envls for ${bundle.target}, Python ${bundle.pythons.join(', ')}`
            : 'no bundled envls: the Python must have envls installed');
        const problems: string[] = [];
        for (const candidate of candidates) {
            this.log.info(`trying ${candidate.command} (from ${describeSource(candidate.source)})`);
            const probe = await this.probe(candidate);
            if ('error' in probe) {
                this.log.warn(probe.error);
                problems.push(probe.error);
                continue;
            }
            const plan = launchPlan(candidate, probe, bundle, strategy);
            if ('error' in plan) {
                this.log.warn(plan.error);
                problems.push(plan.error);
                continue;
            }
            return { ...plan, python: probe.executable || candidate.command, version: versionText(probe.version) };
        }
        this.fail(problems.length === 1 ? problems[0] : `envls found no Python to run it. ${problems.join(' ')}`);
        return undefined;
    }

    private probe(candidate: Candidate): Promise<Probe | { error: string }> {
        const where = `${candidate.command} (from ${describeSource(candidate.source)})`;
        return new Promise((resolve) => {
            execFile(candidate.command, ['-c', PROBE], { timeout: PROBE_TIMEOUT_MS, windowsHide: true }, (err, stdout, stderr) => {
                if (err) {
                    const code = (err as NodeJS.ErrnoException).code;
                    if (code === 'ENOENT') {
                        resolve({ error: `No Python at ${where}. Install Python 3.10 or newer, or set envls.server.pythonPath.` });
                    } else if (err.killed) {
                        resolve({ error: `${where} did not answer within ${PROBE_TIMEOUT_MS / 1000} s.` });
                    } else {
                        resolve({ error: `${where} does not run: ${lastLine(stderr) || err.message}` });
                    }
                    return;
                }
                const probe = parseProbe(stdout);
                resolve(probe ?? { error: `${where} is not a Python that envls can use (it printed ${JSON.stringify(stdout.slice(0, 80))}).` });
            });
        });
    }

    /** After a failed start: import the server as it starts and report the last line of the error. */
    private whyNoStart(command: string, plan: LaunchPlan): Promise<string> {
        const prelude = plan.libs ? `import sys; sys.path.insert(0, ${JSON.stringify(plan.libs)}); ` : '';
        return new Promise((resolve) => {
            execFile(command, ['-c', `${prelude}import envls.lsp.server`], { timeout: PROBE_TIMEOUT_MS, windowsHide: true },
                (err, _stdout, stderr) => {
                    const last = lastLine(stderr);
                    resolve(err && last ? last : 'it exited during start-up; the log (envls: Show Logs) has what it wrote.');
                });
        });
    }
}

function lastLine(text: string): string {
    return text.trim().split(/\r?\n/).pop()?.trim() ?? '';
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
        return await Promise.race([promise, timeout]);
    } finally {
        clearTimeout(timer);
    }
}
