// The build: one CommonJS bundle for the extension host (`vscode` stays external), and with
// --tests the unit tests, each bundled with the pure modules it imports, for `node --test`.
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';

const production = process.argv.includes('--production');

if (process.argv.includes('--tests')) {
    await esbuild.build({
        entryPoints: readdirSync('test/unit').filter((f) => f.endsWith('.test.ts')).map((f) => `test/unit/${f}`),
        outdir: 'out/test/unit',
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node20',
        sourcemap: 'inline',
        external: ['vscode'],
        logLevel: 'warning',
    });
} else {
    await esbuild.build({
        entryPoints: ['src/extension.ts'],
        // jsonc-parser's UMD build requires its parts at run time; its ESM build bundles.
        mainFields: ['module', 'main'],
        // Taken first thing when VS Code loads the bundle: activation time counts module loading too.
        banner: { js: 'const __envlsLoadStarted = Date.now();' },
        outfile: 'dist/extension.js',
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node20',
        external: ['vscode'],
        minify: production,
        sourcemap: !production,
        logLevel: 'warning',
    });
}
