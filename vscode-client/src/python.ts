/**
 * Which Python runs the server, and how: the candidates in their order, the probe that checks one,
 * and the launch plan (the bundled envls through a launcher script, or `-m envls serve --stdio`).
 *
 * Order: `envls.server.pythonPath` (when set, the only candidate: the user chose it); else the
 * interpreter selected in the Python extension; else `python3` on PATH (`python` on Windows).
 * Every step is logged by the caller. No `vscode` import (unit-tested under Node).
 */

import * as path from 'node:path';

import { expandPath } from './settings';

export const MIN_PYTHON: readonly [number, number] = [3, 10];

export type CandidateSource = 'setting' | 'python-extension' | 'path';

export interface Candidate {
    command: string;
    source: CandidateSource;
}

export interface CandidateInput {
    setting?: string;
    pythonExtension?: string;
    platform: string;
    home: string;
    workspaceFolder?: string;
}

export function defaultPython(platform: string): string {
    return platform === 'win32' ? 'python' : 'python3';
}

export function pythonCandidates(input: CandidateInput): Candidate[] {
    const setting = input.setting ? expandPath(input.setting, input.home, input.workspaceFolder) : '';
    if (setting) {
        return [{ command: setting, source: 'setting' }];
    }
    const out: Candidate[] = [];
    if (input.pythonExtension) {
        out.push({ command: input.pythonExtension, source: 'python-extension' });
    }
    const fallback = defaultPython(input.platform);
    if (!out.some((c) => c.command === fallback)) {
        out.push({ command: fallback, source: 'path' });
    }
    return out;
}

export function describeSource(source: CandidateSource): string {
    switch (source) {
        case 'setting':
            return 'the envls.server.pythonPath setting';
        case 'python-extension':
            return "the Python extension's selected interpreter";
        default:
            return 'PATH';
    }
}

/** Run as `python -c PROBE`: prints one JSON line (version, executable, whether envls is importable). */
export const PROBE = [
    'import json, sys',
    'info = {"version": list(sys.version_info[:3]), "executable": sys.executable}',
    'try:',
    '    import importlib.util',
    '    spec = importlib.util.find_spec("envls")',
    '    info["envls"] = spec.origin if spec else None',
    'except Exception as err:',
    '    info["envls"] = None',
    '    info["error"] = repr(err)',
    'print(json.dumps(info))',
].join('\n');

export interface Probe {
    version: [number, number, number];
    executable: string;
    envls: string | null;
}

export function parseProbe(stdout: string): Probe | undefined {
    const line = stdout.trim().split(/\r?\n/).pop() ?? '';
    try {
        const data = JSON.parse(line) as Record<string, unknown>;
        const version = data.version;
        if (!Array.isArray(version) || version.length < 2 || !version.every((v) => typeof v === 'number')) {
            return undefined;
        }
        return {
            version: [version[0], version[1], version[2] ?? 0] as [number, number, number],
            executable: typeof data.executable === 'string' ? data.executable : '',
            envls: typeof data.envls === 'string' ? data.envls : null,
        };
    } catch {
        return undefined;
    }
}

export function versionText(version: readonly number[]): string {
    return version.slice(0, 3).join('.');
}

export function isSupported(version: readonly number[]): boolean {
    return version[0] > MIN_PYTHON[0] || (version[0] === MIN_PYTHON[0] && version[1] >= MIN_PYTHON[1]);
}

/** What `bundled/libs/envls-bundle.json` says: the target and the Python versions the libs are built for. */
export interface Bundle {
    target: string;
    pythons: string[];
    libs: string;
    launcher: string;
}

export function parseBundle(text: string, bundledDir: string): Bundle | undefined {
    try {
        const data = JSON.parse(text) as Record<string, unknown>;
        const pythons = Array.isArray(data.pythons) ? data.pythons.filter((v): v is string => typeof v === 'string') : [];
        if (!pythons.length) {
            return undefined;
        }
        return {
            target: typeof data.target === 'string' ? data.target : '',
            pythons,
            libs: path.join(bundledDir, 'libs'),
            launcher: path.join(bundledDir, 'tool', 'launch.py'),
        };
    } catch {
        return undefined;
    }
}

export type ImportStrategy = 'useBundled' | 'fromEnvironment';

export interface LaunchPlan {
    command: string;
    args: string[];
    /** Where envls comes from, for the log and the status bar. */
    envls: 'bundled' | 'environment';
    /** The bundled libs folder the launcher puts first on sys.path. */
    libs?: string;
}

/**
 * How to start the server with a probed Python, or the one message that says what to do.
 *
 * The bundled libs are put on `sys.path` by a launcher script rather than by PYTHONPATH: the server
 * runs conda, mamba and pip, and a PYTHONPATH would leak the bundled packages into them.
 */
export function launchPlan(
    candidate: Candidate,
    probe: Probe,
    bundle: Bundle | undefined,
    strategy: ImportStrategy,
): LaunchPlan | { error: string } {
    const where = `${candidate.command} (from ${describeSource(candidate.source)})`;
    if (!isSupported(probe.version)) {
        return {
            error: `envls needs Python ${MIN_PYTHON.join('.')} or newer, but ${where} is Python ${versionText(probe.version)}. ` +
                'Set envls.server.pythonPath to a newer Python.',
        };
    }
    const minor = `${probe.version[0]}.${probe.version[1]}`;
    if (strategy === 'useBundled' && bundle && bundle.pythons.includes(minor)) {
        return { command: candidate.command, args: [bundle.launcher, 'serve', '--stdio'], envls: 'bundled', libs: bundle.libs };
    }
    if (probe.envls) {
        return { command: candidate.command, args: ['-m', 'envls', 'serve', '--stdio'], envls: 'environment' };
    }
    const bundled = bundle
        ? ` This extension bundles envls for Python ${bundle.pythons.join(', ')} only.`
        : '';
    return {
        error: `envls is not installed in ${where}.${bundled} ` +
            `Install envls into it (${candidate.command} -m pip install envls, or pip install . in an envls checkout), ` +
            'or set envls.server.pythonPath to a Python that has it.',
    };
}
