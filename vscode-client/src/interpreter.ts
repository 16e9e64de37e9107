/**
 * The Python extension, as an optional integration: the interpreter it has selected (a candidate to
 * run the server with), and selecting an environment's Python after "Create" or "Select".
 *
 * Without the extension (VS Code without it, code-server and other Open VSX editors where it may be
 * missing) the interpreter goes into the workspace folder's `python.defaultInterpreterPath`. That
 * setting is contributed by the Python extension, so VS Code refuses to write it through the
 * configuration API while the extension is absent; the folder's `.vscode/settings.json` is then
 * edited directly (comments and formatting kept).
 */

import { PythonExtension } from '@vscode/python-extension';
import * as jsonc from 'jsonc-parser';
import { ConfigurationTarget, Disposable, extensions, LogOutputChannel, Uri, workspace, WorkspaceFolder } from 'vscode';

export const PYTHON_EXTENSION_ID = 'ms-python.python';

export function pythonExtensionInstalled(): boolean {
    return extensions.getExtension(PYTHON_EXTENSION_ID) !== undefined;
}

async function api(log: LogOutputChannel): Promise<PythonExtension | undefined> {
    if (!pythonExtensionInstalled()) {
        return undefined;
    }
    try {
        return await PythonExtension.api();
    } catch (err) {
        log.warn(`the Python extension is installed but its API is not available: ${err}`);
        return undefined;
    }
}

/** The interpreter the Python extension has selected for `resource`, if it is installed and has one. */
export async function selectedInterpreter(log: LogOutputChannel, resource?: Uri): Promise<string | undefined> {
    const python = await api(log);
    if (!python) {
        return undefined;
    }
    try {
        const active = python.environments.getActiveEnvironmentPath(resource);
        const resolved = await python.environments.resolveEnvironment(active);
        return resolved?.executable.uri?.fsPath ?? active.path;
    } catch (err) {
        log.warn(`could not read the Python extension's interpreter: ${err}`);
        return undefined;
    }
}

/** Calls `listener` when the Python extension's selected interpreter changes (nothing without it). */
export async function onInterpreterChanged(log: LogOutputChannel, listener: () => void): Promise<Disposable | undefined> {
    const python = await api(log);
    return python?.environments.onDidChangeActiveEnvironmentPath(() => listener());
}

export type SetBy = 'python-extension' | 'folder-setting' | 'user-setting';

/**
 * Makes `pythonPath` the interpreter for `folder` (for the window when there is no folder); says how.
 */
export async function setInterpreter(log: LogOutputChannel, pythonPath: string, folder: WorkspaceFolder | undefined): Promise<SetBy> {
    const python = await api(log);
    if (python) {
        await python.environments.updateActiveEnvironmentPath(pythonPath, folder);
        log.info(`interpreter set through the Python extension: ${pythonPath}`);
        return 'python-extension';
    }
    const target = folder ? ConfigurationTarget.WorkspaceFolder : ConfigurationTarget.Global;
    try {
        await workspace.getConfiguration('python', folder?.uri).update('defaultInterpreterPath', pythonPath, target);
        log.info(`python.defaultInterpreterPath set for ${folder ? folder.name : 'the user'}: ${pythonPath}`);
        return folder ? 'folder-setting' : 'user-setting';
    } catch (err) {
        if (!folder) {
            throw err;
        }
        log.info(`python.defaultInterpreterPath is not a registered setting (${err}); editing .vscode/settings.json`);
    }
    await writeFolderSetting(folder.uri, 'python.defaultInterpreterPath', pythonPath);
    log.info(`python.defaultInterpreterPath written to ${folder.name}/.vscode/settings.json: ${pythonPath}`);
    return 'folder-setting';
}

/** Sets `key` in `<folder>/.vscode/settings.json`, keeping the file's comments and layout. */
export async function writeFolderSetting(folder: Uri, key: string, value: unknown): Promise<void> {
    const dir = Uri.joinPath(folder, '.vscode');
    const file = Uri.joinPath(dir, 'settings.json');
    let text = '{}\n';
    try {
        text = new TextDecoder().decode(await workspace.fs.readFile(file));
    } catch {
        await workspace.fs.createDirectory(dir);
    }
    const edits = jsonc.modify(text, [key], value, { formattingOptions: { insertSpaces: true, tabSize: 4, eol: '\n' } });
    await workspace.fs.writeFile(file, new TextEncoder().encode(jsonc.applyEdits(text, edits)));
}
