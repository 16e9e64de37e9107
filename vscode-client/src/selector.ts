/**
 * Which documents envls serves: the document selector built from `envls.documentSelector`, and the
 * test that tells an environment file from any other YAML file.
 *
 * The default selector names environment files by their name and also takes every YAML file: the
 * server decides by content which of those are environment files (a top-level `dependencies:` list),
 * and publishes diagnostics and code lenses only for those. It does not guard its other features
 * (completion, hover, quick fixes, outline), so the client asks `isEnvironmentFile` before it
 * forwards those requests. The rule (name patterns, workspace glob, content patterns) is one file,
 * envls/data/environment_files.json, that the server reads and the build bundles in here.
 *
 * No `vscode` import: the unit tests run this under plain Node.
 */

import rules from '../../envls/data/environment_files.json';

/** A glob that finds environment files by name in a workspace. */
export const DEFAULT_PATTERN: string = rules.workspaceGlob;

export interface Filter {
    language?: string;
    scheme?: string;
    pattern?: string;
}

export interface Selector {
    filters: Filter[];
    /** True when the selector includes YAML files that the server must identify by content. */
    byContent: boolean;
    problems: string[];
}

/** The default selector: environment files by name, plus every YAML file on disk. */
export function defaultSelector(): Filter[] {
    return [
        { scheme: 'file', pattern: DEFAULT_PATTERN },
        { scheme: 'file', language: 'yaml' },
    ];
}

/** The selector for a value of `envls.documentSelector`; bad entries are reported and skipped. */
export function buildSelector(setting: unknown): Selector {
    if (setting === undefined || setting === null || (Array.isArray(setting) && setting.length === 0)) {
        return { filters: defaultSelector(), byContent: true, problems: [] };
    }
    if (!Array.isArray(setting)) {
        return {
            filters: defaultSelector(),
            byContent: true,
            problems: ['envls.documentSelector must be a list of glob patterns or document filters; the default is used'],
        };
    }
    const filters: Filter[] = [];
    const problems: string[] = [];
    setting.forEach((item: unknown, index: number) => {
        if (typeof item === 'string' && item.trim()) {
            filters.push({ scheme: 'file', pattern: item.trim() });
            return;
        }
        if (item && typeof item === 'object' && !Array.isArray(item)) {
            const filter: Filter = {};
            for (const key of ['language', 'scheme', 'pattern'] as const) {
                const value = (item as Record<string, unknown>)[key];
                if (typeof value === 'string' && value.trim()) {
                    filter[key] = value.trim();
                }
            }
            if (filter.language || filter.scheme || filter.pattern) {
                filters.push(filter);
                return;
            }
        }
        problems.push(`envls.documentSelector[${index}] is neither a glob pattern nor a document filter; skipped`);
    });
    if (filters.length === 0) {
        problems.push('envls.documentSelector selects nothing; the default is used');
        return { filters: defaultSelector(), byContent: true, problems };
    }
    const byContent = filters.some((f) => f.language !== undefined && f.pattern === undefined);
    return { filters, byContent, problems };
}

/** A shell-style pattern (`*`, `?`) as an anchored regular expression. */
function patternRegExp(pattern: string): RegExp {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return new RegExp(`^${body}$`);
}

const NAMES = rules.namePatterns.map(patternRegExp);
const YAML = /\.ya?ml$/i;
const DEPENDENCIES_LINE = new RegExp(rules.dependenciesLine, 'm');
const DEPENDENCIES_FLOW = new RegExp(rules.dependenciesFlow, 'm');

/** True for names like `environment.yml`, `env-dev.yaml` or `conda.yml`. */
export function isEnvironmentName(fileName: string): boolean {
    const base = fileName.replace(/\\/g, '/').split('/').pop() ?? '';
    const lower = base.toLowerCase();
    return NAMES.some((name) => name.test(lower));
}

/** True when the text's top level has a `dependencies` key holding a list (by lines, as the server checks). */
export function looksLikeEnvironment(text: string): boolean {
    const match = DEPENDENCIES_LINE.exec(text);
    if (!match) {
        return DEPENDENCIES_FLOW.test(text);
    }
    const after = text.slice(match.index + match[0].length).replace(/^[\r\n]+/, '');
    for (const line of after.split(/\r?\n/)) {
        const stripped = line.trim();
        if (!stripped || stripped.startsWith('#')) {
            continue;
        }
        return stripped.startsWith('-');
    }
    return false;
}

/** The server's test: an environment file by name, or a YAML file whose content is one. */
export function isEnvironmentFile(fileName: string, text: string | undefined): boolean {
    if (isEnvironmentName(fileName)) {
        return true;
    }
    return YAML.test(fileName) && text !== undefined && looksLikeEnvironment(text);
}
