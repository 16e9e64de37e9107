/**
 * The `envls.*` settings as the server reads them (envls/lsp/settings.py), and which changes need a
 * restart rather than a `workspace/didChangeConfiguration`.
 *
 * Client-only settings (`envls.server.*`, `envls.documentSelector`) never reach the server. `trusted`
 * is no setting at all: it is VS Code's workspace trust. No `vscode` import (unit-tested under Node).
 */

/** What the server's `envls` section holds. */
export interface ServerSettings {
    disable: string[];
    logLevel: string;
    trusted: boolean;
    channelChecks: boolean;
    platforms: string[];
    channelRefreshHours: number;
    cacheDir: string;
    cudaVersion: string;
    condaPath: string;
    solve: boolean;
    solveTimeout: number;
}

/** The keys under `envls.` that are passed to the server, with the server's defaults. */
export const SERVER_KEYS = [
    'disable', 'logLevel', 'channelChecks', 'platforms', 'channelRefreshHours', 'cacheDir', 'cudaVersion', 'condaPath',
    'solve', 'solveTimeout',
] as const;

/** Changing one of these restarts the server: they decide how it is started or which files it gets. */
export const RESTART_KEYS = ['envls.server.pythonPath', 'envls.server.importStrategy', 'envls.documentSelector'];

/** One `envls.KEY` as VS Code resolved it, and whether anyone set it (any scope). */
export interface SettingValue {
    value: unknown;
    explicit: boolean;
}

export type SettingReader = (key: (typeof SERVER_KEYS)[number]) => SettingValue;

/** The server's own default for a switch such as ENVLS_CHANNEL_CHECKS: on unless 0/false/no/off. */
export function flagFromEnv(env: Record<string, string | undefined>, name: string): boolean {
    const value = (env[name] ?? '1').trim().toLowerCase();
    return !['0', 'false', 'no', 'off'].includes(value);
}

export function channelChecksFromEnv(env: Record<string, string | undefined>): boolean {
    return flagFromEnv(env, 'ENVLS_CHANNEL_CHECKS');
}

/** The server's own default for solveTimeout: ENVLS_SOLVE_TIMEOUT seconds when positive, else 10. */
export function solveTimeoutFromEnv(env: Record<string, string | undefined>): number {
    const seconds = Number((env.ENVLS_SOLVE_TIMEOUT ?? '').trim() || '10');
    return Number.isFinite(seconds) && seconds > 0 ? seconds : 10;
}

/** `~`, `${userHome}` and `${workspaceFolder}` in a path setting, as VS Code users write them. */
export function expandPath(value: string, home: string, workspaceFolder?: string): string {
    let out = value.trim();
    if (!out) {
        return out;
    }
    out = out.replace(/\$\{userHome\}/g, home);
    if (workspaceFolder !== undefined) {
        out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    }
    if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) {
        out = home + out.slice(1);
    }
    return out;
}

function strings(value: unknown): string[] {
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function text(value: unknown): string {
    return typeof value === 'string' ? value : '';
}

/**
 * The `envls` section for the server. Values VS Code already validated against the contributed schema
 * are passed as they are (the server reports what it still rejects). A channelChecks, solve or
 * solveTimeout that nobody set is what the server's environment variable says, so that
 * `ENVLS_CHANNEL_CHECKS=0`, `ENVLS_SOLVE=0` and `ENVLS_SOLVE_TIMEOUT` keep working.
 */
export function serverSettings(
    read: SettingReader,
    options: { trusted: boolean; env: Record<string, string | undefined>; home: string; workspaceFolder?: string },
): ServerSettings {
    const channelChecks = read('channelChecks');
    const solve = read('solve');
    const solveTimeout = read('solveTimeout');
    const hours = read('channelRefreshHours').value;
    return {
        disable: strings(read('disable').value),
        logLevel: text(read('logLevel').value) || 'info',
        trusted: options.trusted,
        channelChecks: channelChecks.explicit && typeof channelChecks.value === 'boolean'
            ? channelChecks.value
            : channelChecksFromEnv(options.env),
        platforms: strings(read('platforms').value),
        channelRefreshHours: typeof hours === 'number' && hours > 0 ? hours : 6,
        cacheDir: expandPath(text(read('cacheDir').value), options.home, options.workspaceFolder),
        cudaVersion: text(read('cudaVersion').value).trim(),
        condaPath: expandPath(text(read('condaPath').value), options.home, options.workspaceFolder),
        solve: solve.explicit && typeof solve.value === 'boolean' ? solve.value : flagFromEnv(options.env, 'ENVLS_SOLVE'),
        solveTimeout: solveTimeout.explicit && typeof solveTimeout.value === 'number' && solveTimeout.value > 0
            ? solveTimeout.value
            : solveTimeoutFromEnv(options.env),
    };
}

/** True when a configuration change needs a restart (`affects` is ConfigurationChangeEvent.affectsConfiguration). */
export function needsRestart(affects: (section: string) => boolean): boolean {
    return RESTART_KEYS.some((key) => affects(key));
}

/** True when a configuration change concerns the server's own settings. */
export function affectsServer(affects: (section: string) => boolean): boolean {
    return SERVER_KEYS.some((key) => affects(`envls.${key}`));
}
