/**
 * The status bar item for the active environment file: whether its environment exists and matches
 * the file (from the server's code lenses), and, for a file with CUDA packages, the CUDA target (the
 * cudaVersion setting, else what the server detected on its machine).
 * A click offers the commands.
 */

import {
    commands,
    Disposable,
    ExtensionContext,
    languages,
    MarkdownString,
    StatusBarAlignment,
    StatusBarItem,
    TextEditor,
    window,
    workspace,
} from 'vscode';
import { CodeLens, CodeLensRequest, ExecuteCommandRequest } from 'vscode-languageclient/node';

import { environmentName, EnvState, stateFromLenses, statusText } from './envState';
import { cudaSentence, CudaSource } from './messages';
import { ServerManager } from './server';

const MENU = 'envls.status.menu';

/** The answer of the server's `envls.hostInfo` command. */
interface HostInfo {
    platform: string;
    cuda: { driver: string | null; source: CudaSource; known: boolean };
    usesCuda?: boolean; // given a file: whether it has CUDA packages
}

export class StatusBar implements Disposable {
    private readonly item: StatusBarItem;
    private timer: NodeJS.Timeout | undefined;
    private generation = 0;

    constructor(private readonly server: ServerManager, context: ExtensionContext) {
        this.item = window.createStatusBarItem('envls.status', StatusBarAlignment.Left, 50);
        this.item.name = 'envls';
        this.item.command = MENU;
        context.subscriptions.push(
            this,
            commands.registerCommand(MENU, () => this.menu()),
            window.onDidChangeActiveTextEditor(() => this.update()),
            workspace.onDidSaveTextDocument(() => this.update()),
            languages.onDidChangeDiagnostics((e) => {
                const active = window.activeTextEditor?.document.uri.toString();
                if (active && e.uris.some((u) => u.toString() === active)) {
                    this.update();
                }
            }),
            server.onDidChange(() => this.update()),
        );
    }

    dispose(): void {
        clearTimeout(this.timer);
        this.item.dispose();
    }

    /** Refreshes soon (edits and diagnostics come in bursts). */
    update(): void {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.refresh(window.activeTextEditor), 300);
    }

    private async refresh(editor: TextEditor | undefined): Promise<void> {
        const generation = ++this.generation;
        if (!editor || !this.server.serves(editor.document)) {
            this.item.hide();
            return;
        }
        const document = editor.document;
        const setting = workspace.getConfiguration('envls', document.uri).get<string>('cudaVersion', '').trim();
        const client = this.server.client;
        let cuda = setting;
        let cudaSource: CudaSource | undefined = setting ? 'setting' : undefined;
        let platform: string | undefined;
        let usesCuda = false; // the CUDA target is shown only for files with CUDA packages (the server tells)
        if (client && this.server.isRunning()) {
            // What the server detected on its machine (over Remote-SSH: the remote one).
            try {
                const info = await client.sendRequest(ExecuteCommandRequest.type,
                    { command: 'envls.hostInfo', arguments: [{ uri: document.uri.toString() }] }) as HostInfo;
                platform = info?.platform;
                usesCuda = info?.usesCuda === true;
                if (!setting && info?.cuda?.known) {
                    cuda = info.cuda.driver ?? 'none';
                    cudaSource = info.cuda.source;
                }
            } catch (err) {
                this.server.log.debug(`status: hostInfo failed: ${err}`);
            }
        }
        const tooltip = new MarkdownString(undefined, true);
        if (!client || !this.server.isRunning()) {
            this.item.text = '$(warning) envls: not running';
            this.item.tooltip = 'The envls server is not running. Click for the log and a restart.';
            this.item.show();
            return;
        }
        let state: EnvState = { kind: 'unknown', name: environmentName(document.getText()) };
        try {
            const lenses = await client.sendRequest(CodeLensRequest.type, { textDocument: { uri: document.uri.toString() } });
            state = stateFromLenses((lenses ?? []).map((l: CodeLens) => l.command?.title ?? ''), state.name);
        } catch (err) {
            this.server.log.debug(`status: code lenses failed: ${err}`);
        }
        if (generation !== this.generation) {
            return;
        }
        this.item.text = statusText(state, usesCuda ? cuda : '');
        const described = {
            missing: 'not created yet',
            'in-sync': 'created, and in sync with this file',
            drift: state.kind === 'drift' ? `created; ${state.outOfDate} package(s) out of date` : '',
            unknown: 'not known yet',
        }[state.kind];
        tooltip.appendMarkdown(`**envls**: environment \`${state.name ?? '?'}\` is ${described}.\n\n`);
        if (usesCuda) {
            tooltip.appendText(cudaSentence(cuda, cudaSource, platform));
            tooltip.appendMarkdown('\n\n');
        }
        const plan = this.server.plan;
        if (plan) {
            tooltip.appendMarkdown(`Server: Python ${plan.version} (\`${plan.python}\`), envls ${plan.envls === 'bundled' ? 'bundled' : 'from that Python'}.\n\n`);
        }
        if (!workspace.isTrusted) {
            tooltip.appendMarkdown('Restricted Mode: checks only; no conda runs.\n\n');
        }
        this.item.tooltip = tooltip;
        this.item.show();
    }

    private async menu(): Promise<void> {
        const items = [
            { label: 'Conda: Create Environment from File', command: 'envls.conda.createEnvironment' },
            { label: 'Conda: Update Environment', command: 'envls.conda.updateEnvironment' },
            { label: 'Conda: Select Environment as Python Interpreter', command: 'envls.conda.selectInterpreter' },
            { label: 'envls: Show Logs', command: 'envls.showLogs' },
            { label: 'envls: Restart Server', command: 'envls.restartServer' },
        ].filter((i) => workspace.isTrusted || !i.command.startsWith('envls.conda.'));
        const picked = await window.showQuickPick(items, { placeHolder: 'envls' });
        if (picked) {
            await commands.executeCommand(picked.command);
        }
    }
}
