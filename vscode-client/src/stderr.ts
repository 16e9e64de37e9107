/**
 * The server's stderr in the log. The server logs to stderr and, once initialized, also to the client
 * (`window/logMessage`) for its `envls.*` loggers: those lines would appear twice, so a formatted
 * `envls.*` log line is dropped once the server runs. Everything else is kept, at its level: start-up
 * lines, other loggers (pygls), tracebacks. The log channel stamps each line with its own time and
 * level, so a formatted line loses the server's. No `vscode` import (unit-tested under Node).
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';

// envls/cli.py: "%(asctime)s %(levelname)s %(name)s: %(message)s"
const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+): /;
const LEVELS: Record<string, Level> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', CRITICAL: 'error' };

/** Where a stderr line goes, and its text without the server's time and level; undefined to drop it. */
export function stderrLine(line: string, serverForwardsLogs: boolean): { level: Level; text: string } | undefined {
    const match = LOG_LINE.exec(line);
    if (!match) {
        return line.trim() ? { level: 'error', text: line } : undefined;
    }
    const logger = match[2];
    if (serverForwardsLogs && (logger === 'envls' || logger.startsWith('envls.'))) {
        return undefined;
    }
    return { level: LEVELS[match[1]], text: `${logger}: ${line.slice(match[0].length)}` };
}
