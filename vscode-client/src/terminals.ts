/**
 * New integrated terminals start activated: after "Create" or "Select", the server's activation variables
 * (`envls.activationEnvironment`, computed where the server runs, so also over Remote-SSH and without
 * `conda init`) go into the extension's environment-variable collection, scoped to the file's folder.
 * VS Code shows the collection's description in the terminal's tooltip, and offers to relaunch terminals
 * that were open before. The collection persists across window reloads.
 */

import { ExtensionContext, LogOutputChannel, MarkdownString, Uri, workspace } from 'vscode';

export const ACTIVATION_COMMAND = 'envls.activationEnvironment';

export interface ActivationResult {
    prefix: string;
    name: string | null;
    variables: Record<string, string>;
}

export type Send = (command: string, args: unknown[]) => Promise<unknown>;

export class TerminalActivation {
    constructor(
        private readonly context: ExtensionContext,
        private readonly log: LogOutputChannel,
    ) {
        context.environmentVariableCollection.persistent = true;
    }

    /** Ask the server for the variables of the file's environment and apply them to the file's folder. */
    async activate(send: Send, uri: Uri | undefined): Promise<ActivationResult | undefined> {
        if (!uri) {
            return undefined;
        }
        try {
            const result = await send(ACTIVATION_COMMAND, [{ uri: uri.toString() }]) as ActivationResult;
            this.apply(result, uri);
            return result;
        } catch (err) {
            this.log.warn(`terminal activation: ${err instanceof Error ? err.message : String(err)}`);
            return undefined;
        }
    }

    apply(result: ActivationResult, uri: Uri): void {
        const folder = workspace.getWorkspaceFolder(uri);
        const collection = folder
            ? this.context.environmentVariableCollection.getScoped({ workspaceFolder: folder })
            : this.context.environmentVariableCollection;
        collection.clear();
        for (const [key, value] of Object.entries(result.variables)) {
            collection.replace(key, value);
        }
        const label = result.name ?? result.prefix;
        collection.description = new MarkdownString(`Activates the conda environment \`${label}\` (envls)`);
        this.log.info(`new terminals${folder ? ` of ${folder.name}` : ''} start with ${label} activated `
            + `(${Object.keys(result.variables).length} variables)`);
    }
}
