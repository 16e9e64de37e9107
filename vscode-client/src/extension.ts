/**
 * The extension's entry point: wires the server, the commands, the status bar and the events that
 * restart the server or send it new settings. The server starts in the background, so activation
 * itself stays short; the log says how long both took.
 */

import { commands, ExtensionContext, window, workspace } from 'vscode';

import { Commands } from './commands';
import { onInterpreterChanged } from './interpreter';
import { Coalescer } from './restart';
import { ServerManager } from './server';
import { affectsServer, needsRestart } from './settings';
import { StatusBar } from './status';
import { TerminalActivation } from './terminals';

let server: ServerManager | undefined;

// Set by the bundle's first line (esbuild.mjs); absent when the module is loaded some other way.
declare const __envlsLoadStarted: number | undefined;

export function activate(context: ExtensionContext): void {
    const started = typeof __envlsLoadStarted === 'number' ? __envlsLoadStarted : Date.now();
    const log = window.createOutputChannel('envls', { log: true });
    context.subscriptions.push(log);
    server = new ServerManager(context, log);
    const manager = server;
    const status = new StatusBar(manager, context);
    const palette = new Commands(manager, log);
    palette.register(context);
    palette.terminals = new TerminalActivation(context, log);
    palette.onChanged = () => status.update();
    manager.commandHook = (command, args) => palette.run(command, args);

    let reason = 'starting';
    const restarter = new Coalescer(async () => {
        const why = reason;
        await manager.stop();
        log.info(`(re)starting the server: ${why}`);
        await manager.start();
    });
    const restart = (why: string) => {
        reason = why;
        return restarter.run();
    };
    manager.restartHook = (why) => void restart(why);

    context.subscriptions.push(
        commands.registerCommand('envls.restartServer', () => restart('asked for (envls: Restart Server)')),
        workspace.onDidChangeConfiguration((e) => {
            if (needsRestart((s) => e.affectsConfiguration(s))) {
                void restart('a setting that decides how the server starts changed');
            } else if (affectsServer((s) => e.affectsConfiguration(s))) {
                status.update();
            }
        }),
        // Trust can only be granted while the window is open (revoking it reloads the window).
        workspace.onDidGrantWorkspaceTrust(() => {
            log.info('workspace trusted: telling the server');
            void manager.sendSettings();
            status.update();
        }),
    );

    void restart('activation').then(() => {
        log.info(`server ready ${Date.now() - started} ms after the extension was loaded`);
    });
    // The Python extension's interpreter runs the server when no envls.server.pythonPath is set.
    void onInterpreterChanged(log, () => {
        if (!workspace.getConfiguration('envls').get<string>('server.pythonPath')) {
            void restart("the Python extension's interpreter changed");
        }
    }).then((d) => d && context.subscriptions.push(d));
    const activationMs = Date.now() - started;
    log.info(`envls extension ${context.extension.packageJSON.version} activated in ${activationMs} ms (module loading included)`);
}

export async function deactivate(): Promise<void> {
    await server?.stop();
    server = undefined;
}
