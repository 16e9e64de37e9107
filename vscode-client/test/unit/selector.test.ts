import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildSelector, DEFAULT_PATTERN, isEnvironmentFile, isEnvironmentName, looksLikeEnvironment } from '../../src/selector';

describe('buildSelector', () => {
    it('defaults to environment files by name plus all YAML, identified by the server', () => {
        for (const setting of [undefined, null, []]) {
            assert.deepEqual(buildSelector(setting), {
                filters: [{ scheme: 'file', pattern: DEFAULT_PATTERN }, { scheme: 'file', language: 'yaml' }],
                byContent: true,
                problems: [],
            });
        }
    });
    it('takes glob strings and document filters', () => {
        const selector = buildSelector(['**/deps/*.yml', { language: 'yaml', scheme: 'untitled' }, { pattern: '**/x.yaml', bogus: 1 }]);
        assert.deepEqual(selector.filters, [
            { scheme: 'file', pattern: '**/deps/*.yml' },
            { language: 'yaml', scheme: 'untitled' },
            { pattern: '**/x.yaml' },
        ]);
        assert.equal(selector.byContent, true);
        assert.deepEqual(selector.problems, []);
    });
    it('patterns alone need no identification by content', () => {
        assert.equal(buildSelector(['**/environment.yml']).byContent, false);
    });
    it('reports bad entries and keeps the good ones', () => {
        const selector = buildSelector(['', 42, {}, '**/env.yml']);
        assert.deepEqual(selector.filters, [{ scheme: 'file', pattern: '**/env.yml' }]);
        assert.equal(selector.problems.length, 3);
        assert.match(selector.problems[1], /documentSelector\[1\]/);
    });
    it('falls back to the default when nothing is left', () => {
        const selector = buildSelector([7]);
        assert.equal(selector.filters.length, 2);
        assert.match(selector.problems.at(-1) ?? '', /selects nothing/);
        assert.match(buildSelector('**/*.yml').problems[0], /must be a list/);
    });
});

describe('isEnvironmentFile (the rules of envls/data/environment_files.json)', () => {
    it('knows environment files by name', () => {
        for (const name of ['environment.yml', '/a/b/Environment-dev.YAML', 'env.yaml', 'conda.yml', 'ci-environment.yml', 'C:\\x\\env.yml']) {
            assert.ok(isEnvironmentName(name), name);
        }
        for (const name of ['docker-compose.yml', 'environment.json', 'mkdocs.yaml', 'myenv.yml.bak']) {
            assert.ok(!isEnvironmentName(name), name);
        }
    });
    it('knows other YAML by a top-level dependencies list', () => {
        assert.ok(looksLikeEnvironment('name: x\ndependencies:\n  # comment\n\n  - numpy\n'));
        assert.ok(looksLikeEnvironment('dependencies: # deps\n- numpy\n'));
        assert.ok(looksLikeEnvironment('dependencies: [numpy, scipy]\n'));
        assert.ok(!looksLikeEnvironment('dependencies:\n  numpy: 1\n'));
        assert.ok(!looksLikeEnvironment('services:\n  dependencies:\n    - db\n'));
        assert.ok(!looksLikeEnvironment('dependencies:\n'));
        assert.ok(isEnvironmentFile('/ws/deps/requirements.yml', 'dependencies:\n  - python\n'));
        assert.ok(!isEnvironmentFile('/ws/.github/workflows/ci.yml', 'on: push\njobs: {}\n'));
        assert.ok(!isEnvironmentFile('/ws/notes.txt', 'dependencies:\n  - python\n'));
        assert.ok(isEnvironmentFile('/ws/environment.yml', undefined));
    });
});
