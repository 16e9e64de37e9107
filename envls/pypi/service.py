"""What pip data an environment file needs, and getting it: shared by the server and `envls check`.

Facts are kept per plan (the indexes a file's pip section resolves to); a file whose plan did not
change reuses them at once (the keystroke path), and a refresh asks only for what the client does not
hold yet (a requirement that was just typed). Mirrors envls/channels/service.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from envls.core.conda.companions import metadata_wanted
from envls.core.environment import Environment
from envls.core.pip.facts import IndexFacts, release_key
from envls.core.pip.mapping import canonical
from envls.pypi.config import IndexPlan, PipConfig, load_pip_config, plan_indexes
from envls.pypi.facts import gather, gather_metadata, read_pip_files, requirement_names
from envls.pypi.index import IndexClient

log = logging.getLogger(__name__)


class PipService:
    def __init__(self, client: IndexClient, config: PipConfig | None = None, trusted: bool = True,
                 environ: Mapping[str, str] | None = None, default_index: str | None = None,
                 expand_environment_variables: bool = False) -> None:
        self.client = client
        self.config = config if config is not None else load_pip_config(environ)
        for problem in self.config.problems:
            log.warning("pip configuration: %s", problem)
        self.trusted = trusted
        self.environ = environ
        self.default_index = default_index
        self.expand = expand_environment_variables
        self._facts: dict[object, IndexFacts] = {}

    def files(self, env: Environment, root_dir: Path | None) -> dict[str, str | None]:
        """The `-r`/`-c`/`-e` files of the pip section (local file I/O, bounded)."""
        if not env.pip:
            return {}
        return read_pip_files(env, root_dir, trusted=self.trusted)

    def plan(self, env: Environment, files: Mapping[str, str | None] | None = None) -> IndexPlan:
        return plan_indexes(env, self.config, files, self.trusted, self.environ, self.default_index, self.expand)

    def cached(self, env: Environment, files: Mapping[str, str | None] | None = None) -> IndexFacts | None:
        """Facts for this file's indexes when loaded before; no network."""
        if not env.pip:
            return None
        return self._facts.get(self.plan(env, files).key)

    def needs_refresh(self, env: Environment, files: Mapping[str, str | None] | None = None) -> bool:
        facts = self.cached(env, files)
        if facts is None:
            return bool(requirement_names(env))
        return any(facts.pending(name) for name in requirement_names(env)) or _metadata_missing(env, facts)

    async def facts(self, env: Environment, files: Mapping[str, str | None] | None = None,
                    extra_names: Sequence[str] = ()) -> IndexFacts:
        """Load what ``env`` needs (and the pages of ``extra_names``, e.g. a name being completed)."""
        plan = self.plan(env, files)
        previous = self._facts.get(plan.key)
        wanted = requirement_names(env) | {canonical(n) for n in extra_names}
        if previous is not None and not any(previous.pending(n) for n in wanted):
            if not _metadata_missing(env, previous):
                return previous
            facts = await gather_metadata(self.client, env, plan, previous)  # a release pinned anew
        else:
            facts = await gather(self.client, env, plan, extra_names, previous)
        self._facts[plan.key] = facts
        return facts


def _metadata_missing(env: Environment, facts: IndexFacts) -> bool:
    """True when a rule would read the Requires-Dist of a release whose metadata was not asked for yet."""
    return any(release_key(name, version) not in facts.requires for name, version in metadata_wanted(env, facts))
