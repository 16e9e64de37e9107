/**
 * The state of a file's environment as the server's code lenses tell it: not created yet, in sync
 * with the file, or N packages out of date; and the text the status bar shows for it.
 * No `vscode` import (unit-tested under Node).
 */

export type EnvState =
    | { kind: 'missing'; name?: string }
    | { kind: 'in-sync'; name?: string }
    | { kind: 'drift'; name?: string; outOfDate: number }
    | { kind: 'unknown'; name?: string };

/** The state from the lens titles envls/lsp/lenses.py writes. */
export function stateFromLenses(titles: string[], name?: string): EnvState {
    for (const title of titles) {
        const created = /^Create environment(?: `([^`]*)`)?/.exec(title);
        if (created) {
            return { kind: 'missing', name: created[1] ?? name };
        }
        if (/^Update environment \(in sync/.test(title)) {
            return { kind: 'in-sync', name };
        }
        const drift = /^Update environment \((\d+) packages? out of date\)/.exec(title);
        if (drift) {
            return { kind: 'drift', name, outOfDate: Number(drift[1]) };
        }
    }
    return { kind: 'unknown', name };
}

/** The file's `name:` (or else `prefix:`) read from its top level, for the status bar only. */
export function environmentName(text: string): string | undefined {
    for (const key of ['name', 'prefix']) {
        const match = new RegExp(`^${key}\\s*:\\s*(.*?)\\s*(?:#.*)?$`, 'm').exec(text);
        const value = match?.[1]?.replace(/^(['"])(.*)\1$/, '$2').trim();
        if (value) {
            return value;
        }
    }
    return undefined;
}

/** `$(icon) text` for the status bar item, with the CUDA target when one is set. */
export function statusText(state: EnvState, cuda: string): string {
    const name = state.name ?? 'environment';
    let text: string;
    switch (state.kind) {
        case 'missing':
            text = `$(circle-slash) ${name}: not created`;
            break;
        case 'in-sync':
            text = `$(check) ${name}`;
            break;
        case 'drift':
            text = `$(sync) ${name}: ${state.outOfDate} out of date`;
            break;
        default:
            text = `$(package) ${name}`;
    }
    const target = cuda.trim();
    if (target) {
        text += target.toLowerCase() === 'none' ? ' · no CUDA' : ` · CUDA ${target}`;
    }
    return text;
}
