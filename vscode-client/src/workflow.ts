/**
 * Palette actions for the rest of the workflow: export the installed environment back to its file,
 * register it as a Jupyter kernel, generate a Dockerfile. Each calls the server's command of the same
 * name (which refuses in an untrusted workspace) and says what it did.
 */

import { ProgressLocation, Uri, window, workspace } from 'vscode';

import { Send } from './terminals';

export const WORKFLOW_COMMANDS = {
    export: 'envls.exportEnvironment',
    kernel: 'envls.registerKernel',
    dockerfile: 'envls.generateDockerfile',
} as const;

interface ExportResult { text: string; output?: string; changed: boolean }
interface KernelResult { name: string; displayName: string; path: string }
interface DockerfileResult { text: string; notes: string[]; output?: string }

export async function exportToFile(send: Send, uri: Uri): Promise<void> {
    const mode = await window.showQuickPick([
        { label: 'Only what was asked for', description: '--from-history', args: { fromHistory: true } },
        { label: 'Every package with its version', description: 'name=version', args: {} },
        { label: 'Every package with version and build', description: '--with-builds', args: { withBuilds: true } },
    ], { placeHolder: `Export the installed environment to ${workspace.asRelativePath(uri)}: keeps its comments and order` });
    if (!mode) {
        return;
    }
    const result = await send(WORKFLOW_COMMANDS.export, [{ uri: uri.toString(), output: uri.toString(), ...mode.args }]) as ExportResult;
    void window.showInformationMessage(result.changed
        ? `${workspace.asRelativePath(uri)} now describes the installed environment (only what differed changed).`
        : `${workspace.asRelativePath(uri)} already describes the installed environment.`);
}

export async function registerKernel(send: Send, uri: Uri): Promise<void> {
    const result = await window.withProgress(
        { location: ProgressLocation.Notification, title: 'Registering the environment as a Jupyter kernel', cancellable: false },
        () => send(WORKFLOW_COMMANDS.kernel, [{ uri: uri.toString() }]) as Promise<KernelResult>,
    );
    void window.showInformationMessage(`Jupyter kernel "${result.displayName}" registered (${result.path}).`);
}

export async function generateDockerfile(send: Send, uri: Uri): Promise<void> {
    const target = Uri.joinPath(uri, '..', 'Dockerfile');
    let overwrite = false;
    try {
        await workspace.fs.stat(target);
        const choice = await window.showWarningMessage(`${workspace.asRelativePath(target)} exists. Replace it?`, { modal: true }, 'Replace');
        if (choice !== 'Replace') {
            return;
        }
        overwrite = true;
    } catch {
        // No Dockerfile yet.
    }
    const result = await send(WORKFLOW_COMMANDS.dockerfile, [{ uri: uri.toString(), output: target.toString(), overwrite }]) as DockerfileResult;
    await window.showTextDocument(target);
    for (const note of result.notes) {
        void window.showInformationMessage(note);
    }
}

export function isWorkflowCommand(command: string): boolean {
    return (Object.values(WORKFLOW_COMMANDS) as string[]).includes(command);
}
