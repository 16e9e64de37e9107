/**
 * What the user reads: the outcome of a command, first and short enough for a notification at the default
 * window width (the paths go to the log), and the status bar tooltip's CUDA sentence.
 * No `vscode` import (unit-tested under Node).
 */

/** The environment's name as a user calls it: the last part of its prefix. */
export function environmentLabel(prefix: string): string {
    const parts = prefix.replace(/[\\/]+$/, '').split(/[\\/]/);
    return parts[parts.length - 1] || prefix;
}

/** "Created demo; its Python is now the interpreter." and the like. */
export function outcomeMessage(what: 'created' | 'updated', name: string, interpreterSet: boolean, hasPython = true): string {
    const done = `${what === 'created' ? 'Created' : 'Updated'} ${name}`;
    if (interpreterSet) {
        return `${done}; its Python is now the interpreter.`;
    }
    return hasPython ? `${done}.` : `${done}; it has no Python to use as the interpreter.`;
}

/** "The Python of demo is now the interpreter." */
export function selectedMessage(name: string): string {
    return `The Python of ${name} is now the interpreter.`;
}

/** Where the CUDA target comes from (envls.hostInfo's `cuda.source`, or the setting). */
export type CudaSource = 'setting' | 'detected' | 'CONDA_OVERRIDE_CUDA' | 'none';

/** The tooltip's sentence about the CUDA target: `cuda` is a version, `none`, or '' while not known. */
export function cudaSentence(cuda: string, source: CudaSource | undefined, platform: string | undefined): string {
    const machine = platform ? `the server's machine (${platform})` : "the server's machine";
    const target = cuda.trim();
    if (!target) {
        return `CUDA packages are checked against the CUDA driver of ${machine} once it has been detected.`;
    }
    if (target.toLowerCase() === 'none') {
        return source === 'setting'
            ? 'The envls.cudaVersion setting says the target has no CUDA driver, so CUDA packages are checked as for a machine without a GPU.'
            : `No CUDA driver was found on ${machine}, so CUDA packages are checked as for a machine without a GPU.`;
    }
    const from = source === 'setting' ? 'set by the envls.cudaVersion setting'
        : source === 'CONDA_OVERRIDE_CUDA' ? 'set by CONDA_OVERRIDE_CUDA'
            : `the version the driver of ${machine} supports`;
    return `CUDA packages are checked against CUDA ${target}, ${from}.`;
}
