/**
 * The palette commands and the server commands behind them (and behind the code lenses):
 * create or update the environment of a file with a progress notification that can be cancelled,
 * then make its Python the workspace's interpreter; select an existing environment's Python.
 */

import { commands, ExtensionContext, LogOutputChannel, ProgressLocation, Uri, window, workspace } from 'vscode';
import { ExecuteCommandRequest, ResponseError } from 'vscode-languageclient/node';

import { setInterpreter, SetBy } from './interpreter';
import { DEFAULT_PATTERN } from './selector';
import { environmentLabel, outcomeMessage, selectedMessage } from './messages';
import { ServerManager } from './server';
import { TerminalActivation } from './terminals';
import { exportToFile, generateDockerfile, isWorkflowCommand, registerKernel, WORKFLOW_COMMANDS } from './workflow';

export const SERVER_COMMANDS = {
    create: 'envls.createEnvironment',
    update: 'envls.updateEnvironment',
    select: 'envls.selectInterpreter',
    list: 'envls.listEnvironments',
} as const;

interface CreateResult {
    prefix: string;
    pythonPath: string | null;
    backend: string;
}

interface SelectResult {
    pythonPath: string;
    prefix: string;
    name: string | null;
}

// How long VS Code shows a progress notification at least (its progress service: 800 ms), and a little more.
const PROGRESS_SHOWN_MS = 900;

export class Commands {
    /** Called after a command changed an environment (the status bar refreshes). */
    onChanged: () => void = () => undefined;
    /** Activates new terminals after Create or Select. */
    terminals: TerminalActivation | undefined;

    constructor(
        private readonly server: ServerManager,
        private readonly log: LogOutputChannel,
    ) {}

    register(context: ExtensionContext): void {
        context.subscriptions.push(
            commands.registerCommand('envls.conda.createEnvironment', () => this.fromPalette(SERVER_COMMANDS.create)),
            commands.registerCommand('envls.conda.updateEnvironment', () => this.fromPalette(SERVER_COMMANDS.update)),
            commands.registerCommand('envls.conda.selectInterpreter', () => this.fromPalette(SERVER_COMMANDS.select)),
            commands.registerCommand('envls.showLogs', () => this.log.show()),
            commands.registerCommand('envls.conda.exportEnvironment', () => this.fromPalette(WORKFLOW_COMMANDS.export)),
            commands.registerCommand('envls.conda.registerKernel', () => this.fromPalette(WORKFLOW_COMMANDS.kernel)),
            commands.registerCommand('envls.conda.generateDockerfile', () => this.fromPalette(WORKFLOW_COMMANDS.dockerfile)),
        );
    }

    private async fromPalette(command: string): Promise<unknown> {
        const uri = await this.environmentFile();
        return uri ? this.run(command, [{ uri: uri.toString() }], true) : undefined;
    }

    /** The active editor's environment file; else the workspace's only one; else the user picks. */
    private async environmentFile(): Promise<Uri | undefined> {
        const editor = window.activeTextEditor;
        if (editor && this.server.serves(editor.document)) {
            return editor.document.uri;
        }
        const found = await workspace.findFiles(DEFAULT_PATTERN, '**/node_modules/**', 50);
        if (found.length === 1) {
            return found[0];
        }
        if (found.length === 0) {
            void window.showWarningMessage('Open an environment file (environment.yml) first.');
            return undefined;
        }
        const picked = await window.showQuickPick(
            found.map((uri) => ({ label: workspace.asRelativePath(uri), uri })),
            { placeHolder: 'Which environment file?' },
        );
        return picked?.uri;
    }

    /** Runs a server command from the palette (``palette``: the workflow actions ask how) or a code lens. */
    async run(command: string, args: unknown[], palette = false): Promise<unknown> {
        const known = Object.values(SERVER_COMMANDS) as string[];
        if (!known.includes(command) && !isWorkflowCommand(command)) {
            return this.send(command, args);
        }
        if (command !== SERVER_COMMANDS.list && !workspace.isTrusted) {
            const choice = await window.showWarningMessage(
                'envls runs no conda and selects no interpreter in Restricted Mode: the file could name any program or folder. Trust the workspace first.',
                'Manage Workspace Trust',
            );
            if (choice) {
                await commands.executeCommand('workbench.trust.manage');
            }
            return undefined;
        }
        if (!this.server.isRunning()) {
            void window.showErrorMessage('The envls server is not running. Run "envls: Restart Server", or see "envls: Show Logs".');
            return undefined;
        }
        const argument = (args[0] ?? {}) as { uri?: string };
        const uri = argument.uri ? Uri.parse(argument.uri) : undefined;
        const file = uri ? workspace.asRelativePath(uri) : 'the environment file';
        try {
            if (command === SERVER_COMMANDS.select) {
                const result = await this.send(command, args) as SelectResult;
                const name = result.name ?? environmentLabel(result.prefix);
                const how = await this.useInterpreter(result.pythonPath, uri);
                this.log.info(`${result.prefix}: its Python ${result.pythonPath} is ${how}`);
                await this.terminals?.activate((c, a) => this.send(c, a), uri);
                this.announce(selectedMessage(name));
                return result;
            }
            if (isWorkflowCommand(command)) {
                return await this.workflow(command, args, uri, palette);
            }
            if (command === SERVER_COMMANDS.create || command === SERVER_COMMANDS.update) {
                return await this.createOrUpdate(command, args, uri, file);
            }
            return await this.send(command, args);
        } catch (err) {
            const message = err instanceof ResponseError || err instanceof Error ? err.message : String(err);
            if (/cancelled/i.test(message)) {
                this.log.info(`${command}: ${message}`); // the user asked for it: no error
                void window.showInformationMessage(message.charAt(0).toUpperCase() + message.slice(1));
            } else {
                this.log.error(`${command} failed: ${message}`);
                void window.showErrorMessage(message, 'Show Logs').then((c) => c && this.log.show());
            }
            return undefined;
        } finally {
            this.onChanged();
        }
    }

    private async createOrUpdate(command: string, args: unknown[], uri: Uri | undefined, file: string): Promise<unknown> {
        const update = command === SERVER_COMMANDS.update;
        // The environment is made from the saved file (the server refuses unsaved changes): save it first.
        const open = uri ? workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()) : undefined;
        if (open?.isDirty && !(await open.save())) {
            void window.showWarningMessage(`Save ${file} first: the environment is made from the saved file.`);
            return undefined;
        }
        const title = `${update ? 'Updating' : 'Creating'} the environment of ${file}`;
        let shownAt = Date.now();
        let result: CreateResult;
        try {
            result = await window.withProgress(
                { location: ProgressLocation.Notification, title, cancellable: true },
                async (progress, token) => {
                    shownAt = Date.now();
                    progress.report({ message: 'starting…' });
                    const run = () => this.send(command, args) as Promise<CreateResult>;
                    return this.server.progress ? this.server.progress.withSink({ progress, token }, run) : run();
                },
            );
        } finally {
            // VS Code keeps a progress notification on screen for at least 800 ms: let it go before the outcome
            // (or the error) is announced, so that the two are never shown together.
            await new Promise((resolve) => setTimeout(resolve, Math.max(0, PROGRESS_SHOWN_MS - (Date.now() - shownAt))));
        }
        this.log.info(`${command}: ${JSON.stringify(result)}`);
        const name = environmentLabel(result.prefix);
        if (!update) {
            await this.terminals?.activate((c, a) => this.send(c, a), uri);
        }
        if (!update && result.pythonPath) {
            const how = await this.useInterpreter(result.pythonPath, uri);
            this.log.info(`created ${result.prefix} (${result.backend}); its Python ${result.pythonPath} is ${how}`);
            this.announce(outcomeMessage('created', name, true));
        } else {
            this.log.info(`${update ? 'updated' : 'created'} ${result.prefix} (${result.backend}) from ${file}`);
            this.announce(outcomeMessage(update ? 'updated' : 'created', name, false, update || result.pythonPath !== null));
        }
        return result;
    }

    private async workflow(command: string, args: unknown[], uri: Uri | undefined, palette: boolean): Promise<unknown> {
        const send = (c: string, a: unknown[]) => this.send(c, a);
        if (!palette || !uri) {
            // A code lens (Sync from environment) or another caller: the arguments are complete.
            const result = await this.send(command, args) as { changed?: boolean };
            if (command === WORKFLOW_COMMANDS.export && result?.changed) {
                void window.showInformationMessage('Added what was installed in the environment to the file.');
            }
            return result;
        }
        if (command === WORKFLOW_COMMANDS.export) {
            return exportToFile(send, uri);
        }
        if (command === WORKFLOW_COMMANDS.kernel) {
            return registerKernel(send, uri);
        }
        return generateDockerfile(send, uri);
    }

    /** The outcome, short; "Show" opens the log, which has the paths. */
    private announce(message: string): void {
        void window.showInformationMessage(message, 'Show').then((choice) => choice && this.log.show(true));
    }

    /** Makes `pythonPath` the interpreter; says how, for the log. */
    private async useInterpreter(pythonPath: string, uri: Uri | undefined): Promise<string> {
        const folder = uri ? workspace.getWorkspaceFolder(uri) : workspace.workspaceFolders?.[0];
        const how: SetBy = await setInterpreter(this.log, pythonPath, folder);
        return how === 'python-extension' ? 'selected in the Python extension'
            : how === 'folder-setting' ? `set as python.defaultInterpreterPath of ${folder?.name}`
                : 'set as python.defaultInterpreterPath';
    }

    private send(command: string, args: unknown[]): Promise<unknown> {
        const client = this.server.client;
        if (!client) {
            return Promise.reject(new Error('the envls server is not running'));
        }
        return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
    }
}
