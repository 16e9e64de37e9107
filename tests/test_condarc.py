"""conda's configuration files and channel resolution, each test in its own fake home and environment."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
import rattler

from envls.channels.condarc import CondaConfig, condarc_paths, load_config
from envls.channels.names import (
    ResolvedChannel,
    builtin_default_channels,
    default_channel_alias,
    effective_channels,
    resolve_channel,
)
from envls.core.conda.specs import parse_spec

MIRROR = "http://127.0.0.1:8765/channels"
# The default alias comes from py-rattler, never from a host name written here.
ALIAS = rattler.Channel("conda-forge").base_url.rstrip("/").removesuffix("/conda-forge")
BUILTIN_DEFAULTS = builtin_default_channels()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config(**fields: object) -> CondaConfig:
    for key in ("custom_channels", "custom_multichannels"):
        if key in fields:
            fields[key] = MappingProxyType(fields[key])  # type: ignore[arg-type]
    return CondaConfig(**fields)  # type: ignore[arg-type]


def urls(given: str, cfg: CondaConfig | None = None, root_dir: Path | None = None) -> tuple[str, ...]:
    return resolve_channel(given, cfg or CondaConfig(), root_dir).urls


# -- the search path ----------------------------------------------------------------------------------


def test_search_path_order(tmp_path: Path) -> None:
    home, root, prefix = tmp_path / "home", tmp_path / "root", tmp_path / "env"
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CONDA_PREFIX": str(prefix), "CONDARC": str(tmp_path / "rc.yml")}
    expected = [
        root / ".condarc", root / "condarc", root / "condarc.d",
        tmp_path / "xdg/conda/.condarc", tmp_path / "xdg/conda/condarc", tmp_path / "xdg/conda/condarc.d",
        home / ".config/conda/.condarc", home / ".config/conda/condarc", home / ".config/conda/condarc.d",
        home / ".conda/.condarc", home / ".conda/condarc", home / ".conda/condarc.d",
        home / ".condarc",
        prefix / ".condarc", prefix / "condarc", prefix / "condarc.d",
        tmp_path / "rc.yml",
    ]
    assert condarc_paths(environ, home, root) == expected


def test_search_path_without_variables_lists_xdg_default_once(tmp_path: Path) -> None:
    paths = condarc_paths({}, tmp_path)
    assert paths[0] == tmp_path / ".config/conda/.condarc"
    assert len(paths) == len(set(paths)) == 7
    assert paths[-1] == tmp_path / ".condarc"


@pytest.mark.parametrize(
    ("environ", "root"),
    [
        ({"CONDA_EXE": "/opt/conda/bin/conda"}, Path("/opt/conda")),
        ({"MAMBA_ROOT_PREFIX": "/opt/micromamba"}, Path("/opt/micromamba")),
        ({"CONDA_EXE": "/opt/conda/bin/conda", "MAMBA_ROOT_PREFIX": "/opt/mm"}, Path("/opt/conda")),
    ],
)
def test_conda_root_from_environment(tmp_path: Path, environ: dict[str, str], root: Path) -> None:
    assert condarc_paths(environ, tmp_path)[:3] == [root / ".condarc", root / "condarc", root / "condarc.d"]


def test_conda_root_parameter_beats_environment(tmp_path: Path) -> None:
    assert condarc_paths({"CONDA_EXE": "/opt/conda/bin/conda"}, tmp_path, Path("/x"))[0] == Path("/x/.condarc")


LOCATIONS = [
    "root/.condarc", "root/condarc", "root/condarc.d/50-site.yml", "root/condarc.d/60-site.yaml",
    "xdg/conda/.condarc", "xdg/conda/condarc", "xdg/conda/condarc.d/a.yml",
    "home/.config/conda/.condarc", "home/.config/conda/condarc",
    "home/.conda/.condarc", "home/.conda/condarc", "home/.conda/condarc.d/a.yml",
    "home/.condarc",
    "env/.condarc", "env/condarc", "env/condarc.d/a.yml",
    "elsewhere/my-rc.yaml",
]


@pytest.mark.parametrize("location", LOCATIONS)
def test_each_location_is_read(tmp_path: Path, location: str) -> None:
    path = write(tmp_path / location, f"channel_alias: {MIRROR}\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CONDA_PREFIX": str(tmp_path / "env"),
               "CONDARC": str(tmp_path / "elsewhere/my-rc.yaml")}
    cfg = load_config(environ, tmp_path / "home", tmp_path / "root")
    assert cfg.sources == (str(path),)
    assert cfg.channel_alias == MIRROR
    assert cfg.problems == ()


def test_nothing_configured(tmp_path: Path) -> None:
    cfg = load_config({}, tmp_path)
    assert cfg == CondaConfig()
    assert (cfg.channel_alias, cfg.default_channels, cfg.channels, cfg.sources) == (None, None, ("defaults",), ())


def test_condarc_d_files_in_name_order_and_only_yaml(tmp_path: Path) -> None:
    folder = tmp_path / ".conda/condarc.d"
    write(folder / "20.yml", "channel_alias: http://127.0.0.1:2/\n")
    write(folder / "10.yaml", "channel_alias: http://127.0.0.1:1/\n")
    write(folder / "30.txt", "channel_alias: http://127.0.0.1:3/\n")
    cfg = load_config({}, tmp_path)
    assert cfg.sources == (str(folder / "10.yaml"), str(folder / "20.yml"))
    assert cfg.channel_alias == "http://127.0.0.1:2/"


def test_condarc_variable_ranks_last(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "channel_alias: http://127.0.0.1:1\n")
    rc = write(tmp_path / "project/condarc", "channel_alias: http://127.0.0.1:2\n")
    cfg = load_config({"CONDARC": str(rc)}, tmp_path)
    assert cfg.channel_alias == "http://127.0.0.1:2"
    assert cfg.sources == (str(tmp_path / ".condarc"), str(rc))


def test_condarc_variable_with_a_wrong_name_is_a_problem(tmp_path: Path) -> None:
    rc = write(tmp_path / "settings.txt", "channel_alias: http://127.0.0.1:2\n")
    cfg = load_config({"CONDARC": str(rc)}, tmp_path)
    assert cfg.channel_alias is None
    assert len(cfg.problems) == 1 and cfg.problems[0].startswith(f"{rc}: CONDARC must name")


@pytest.mark.parametrize("name", [".condarc", "condarc", "mirror.yml", "mirror.yaml"])
def test_condarc_variable_accepts_conda_names(tmp_path: Path, name: str) -> None:
    rc = write(tmp_path / "rc" / name, "channel_alias: http://127.0.0.1:2\n")
    cfg = load_config({"CONDARC": str(rc)}, tmp_path / "home")
    assert (cfg.channel_alias, cfg.sources, cfg.problems) == ("http://127.0.0.1:2", (str(rc),), ())


@pytest.mark.parametrize("name", ["mirror.condarc", "condarc.txt", "rc"])
def test_condarc_variable_refuses_other_names_as_conda_does(tmp_path: Path, name: str) -> None:
    rc = write(tmp_path / name, "channel_alias: http://127.0.0.1:2\n")
    cfg = load_config({"CONDARC": str(rc)}, tmp_path / "home")
    assert cfg.channel_alias is None and cfg.problems[0].startswith(f"{rc}: CONDARC must name")


@pytest.mark.parametrize("value", ["~/conf/mirror.yml", "$CONF/mirror.yml", "${CONF}/mirror.yml", "~/$SUB/mirror.yml"])
def test_condarc_variable_expands_home_and_variables(tmp_path: Path, value: str) -> None:
    home = tmp_path / "home"
    rc = write(home / "conf/mirror.yml", "channel_alias: http://127.0.0.1:2\n")
    cfg = load_config({"CONDARC": value, "CONF": str(home / "conf"), "SUB": "conf"}, home)
    assert (cfg.channel_alias, cfg.sources) == ("http://127.0.0.1:2", (str(rc),))


def test_missing_condarc_variable_file_is_silent(tmp_path: Path) -> None:
    assert load_config({"CONDARC": str(tmp_path / "nope.yml")}, tmp_path).problems == ()


def test_user_file_beats_installation_file(tmp_path: Path) -> None:
    write(tmp_path / "root/.condarc", "channel_alias: http://127.0.0.1:1\ncustom_channels: {a: http://h/1, b: http://h/1}\n")
    write(tmp_path / "home/.condarc", "channel_alias: http://127.0.0.1:2\ncustom_channels: {b: http://h/2}\n")
    cfg = load_config({}, tmp_path / "home", tmp_path / "root")
    assert cfg.channel_alias == "http://127.0.0.1:2"
    assert dict(cfg.custom_channels) == {"a": "http://h/1", "b": "http://h/2"}


def test_lists_merge_with_the_later_file_first(tmp_path: Path) -> None:
    # conda concatenates lists across files, highest priority first, each item once.
    write(tmp_path / "root/.condarc", "channels: [defaults, bioconda]\npkgs_dirs: [/cache/a]\n")
    write(tmp_path / "home/.condarc", "channels: [conda-forge, bioconda]\npkgs_dirs: [/cache/b]\n")
    cfg = load_config({}, tmp_path / "home", tmp_path / "root")
    assert cfg.channels == ("conda-forge", "bioconda", "defaults")
    assert cfg.pkgs_dirs == ("/cache/b", "/cache/a")


def test_multichannel_members_merge_like_lists(tmp_path: Path) -> None:
    write(tmp_path / "root/.condarc", "custom_multichannels:\n  team: [a, b]\n  other: [x]\n")
    write(tmp_path / "home/.condarc", "custom_multichannels:\n  team: [c, a]\n")
    cfg = load_config({}, tmp_path / "home", tmp_path / "root")
    assert dict(cfg.custom_multichannels) == {"team": ("c", "a", "b"), "other": ("x",)}


def test_key_aliases_and_folders(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "channel: [conda-forge]\nenvs_path: [~/envs, $PROJ/envs]\n")
    cfg = load_config({"PROJ": "/work/p"}, tmp_path)
    assert cfg.channels == ("conda-forge",)
    assert cfg.envs_dirs == (str(tmp_path / "envs"), "/work/p/envs")


def test_environment_variables_rank_above_files(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "channels: [defaults]\nchannel_alias: http://127.0.0.1:1\n")
    environ = {"CONDA_CHANNELS": "conda-forge, bioconda", "CONDA_CHANNEL_ALIAS": MIRROR,
               "CONDA_DEFAULT_CHANNELS": "main"}
    cfg = load_config(environ, tmp_path)
    assert cfg.channels == ("conda-forge", "bioconda", "defaults")
    assert cfg.channel_alias == MIRROR
    assert cfg.default_channels == ("main",)


def test_variables_in_values_are_expanded(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "channel_alias: http://${MIRROR_HOST}/channels\nchannels: [$TEAM, $UNSET]\n")
    cfg = load_config({"MIRROR_HOST": "127.0.0.1:8765", "TEAM": "team-ch"}, tmp_path)
    assert cfg.channel_alias == MIRROR
    assert cfg.channels == ("team-ch", "$UNSET")


# -- files that cannot be used ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("channels: [conda-forge\n", "invalid YAML"),
        ("channels:\n\t- conda-forge\n", "invalid YAML"),
        ("- conda-forge\n", "the top level is not a mapping"),
        ("just text\n", "the top level is not a mapping"),
    ],
)
def test_invalid_file_is_a_problem_and_skipped(tmp_path: Path, text: str, reason: str) -> None:
    bad = write(tmp_path / ".condarc", text)
    good = write(tmp_path / ".conda/.condarc", f"channel_alias: {MIRROR}\n")
    cfg = load_config({}, tmp_path)
    assert cfg.sources == (str(good),)
    assert cfg.channel_alias == MIRROR
    assert len(cfg.problems) == 1 and cfg.problems[0].startswith(f"{bad}: {reason}")


def test_empty_file_is_read(tmp_path: Path) -> None:
    empty = write(tmp_path / ".condarc", "# nothing yet\n")
    cfg = load_config({}, tmp_path)
    assert (cfg.sources, cfg.problems) == ((str(empty),), ())


def test_undecodable_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / ".condarc").write_bytes(b"channels: [\xff\xfe]\n")
    assert load_config({}, tmp_path).problems[0].startswith(f"{tmp_path / '.condarc'}: cannot read")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("channels: conda-forge\n", "channels"),
        ("channels: [{a: b}]\n", "channels"),
        ("channel_alias: 127.0.0.1/channels\n", "channel_alias"),
        ("channel_alias: [x]\n", "channel_alias"),
        ("custom_channels: [a]\n", "custom_channels"),
        ("custom_multichannels: {team: one}\n", "custom_multichannels"),
        ("default_channels: main\n", "default_channels"),
    ],
)
def test_wrong_types_are_problems_and_ignored(tmp_path: Path, text: str, key: str) -> None:
    write(tmp_path / ".condarc", text + "pkgs_dirs: [/cache]\n")
    cfg = load_config({}, tmp_path)
    assert len(cfg.problems) == 1 and cfg.problems[0].startswith(f"{tmp_path / '.condarc'}: '{key}' should be ")
    assert cfg.pkgs_dirs == ("/cache",)
    assert (cfg.channels, cfg.channel_alias, cfg.default_channels) == (("defaults",), None, None)


def test_explicit_empty_channels_and_nulls(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "channels: []\nchannel_alias:\ncustom_channels:\n")
    cfg = load_config({}, tmp_path)
    assert (cfg.channels, cfg.channel_alias, dict(cfg.custom_channels), cfg.problems) == ((), None, {}, ())
    assert names(effective_channels(["conda-forge"], cfg)) == ["conda-forge"]


def test_numbers_in_lists_are_names(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "channels: [conda-forge, 3, null]\n")
    assert load_config({}, tmp_path).channels == ("conda-forge", "3")


def test_system_folders_only_when_asked(tmp_path: Path) -> None:
    system = write(tmp_path / "etc/conda/condarc", f"channel_alias: {MIRROR}\n")
    assert load_config({}, tmp_path / "home").sources == ()
    assert load_config({}, tmp_path / "home", system_dirs=[tmp_path / "etc/conda"]).sources == (str(system),)


def test_load_config_with_mapping_result_is_immutable(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "custom_channels: {a: http://h}\n")
    with pytest.raises(TypeError):
        load_config({}, tmp_path).custom_channels["b"] = "x"  # type: ignore[index]


# -- channel names to URLs ----------------------------------------------------------------------------


def test_default_alias_comes_from_rattler() -> None:
    assert default_channel_alias() == ALIAS
    assert urls("conda-forge") == (rattler.Channel("conda-forge").base_url.rstrip("/"),)


@pytest.mark.parametrize(
    ("given", "name", "expected", "kind"),
    [
        ("conda-forge", "conda-forge", (f"{ALIAS}/conda-forge",), "name"),
        ("nvidia/label/cuda-12.1.0", "nvidia/label/cuda-12.1.0", (f"{ALIAS}/nvidia/label/cuda-12.1.0",), "name"),
        (" bioconda ", "bioconda", (f"{ALIAS}/bioconda",), "name"),
        ("defaults", "defaults", builtin_default_channels(), "defaults"),
        ("https://example.invalid/ch/", "https://example.invalid/ch", ("https://example.invalid/ch",), "url"),
        ("http://127.0.0.1:9/a/b", "http://127.0.0.1:9/a/b", ("http://127.0.0.1:9/a/b",), "url"),
        ("s3://bucket/channel", "s3://bucket/channel", ("s3://bucket/channel",), "url"),
        (f"{ALIAS}/conda-forge/label/dev", "conda-forge/label/dev", (f"{ALIAS}/conda-forge/label/dev",), "url"),
        ("file:///srv/channel/", "file:///srv/channel", ("file:///srv/channel",), "path"),
        ("/srv/channel", "file:///srv/channel", ("file:///srv/channel",), "path"),
        ("C:\\channels\\local", "file:///C:/channels/local", ("file:///C:/channels/local",), "path"),
    ],
)
def test_resolve(given: str, name: str, expected: tuple[str, ...], kind: str) -> None:
    assert resolve_channel(given, CondaConfig()) == ResolvedChannel(given, name, expected, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "base", "platform"),
    [
        ("https://example.invalid/ch/linux-64/", "https://example.invalid/ch", "linux-64"),
        ("https://example.invalid/ch/noarch", "https://example.invalid/ch", "noarch"),
        ("conda-forge/osx-arm64", f"{ALIAS}/conda-forge", "osx-arm64"),
        ("https://example.invalid/linux-64-extras", "https://example.invalid/linux-64-extras", None),
    ],
)
def test_subdir_after_a_channel_is_split_off(given: str, base: str, platform: str | None) -> None:
    channel = resolve_channel(given, CondaConfig())
    assert (channel.urls, channel.platform) == ((base,), platform)


def test_mirror_through_channel_alias(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", f"channel_alias: {MIRROR}\n")
    cfg = load_config({}, tmp_path)
    assert urls("conda-forge", cfg) == (f"{MIRROR}/conda-forge",)
    assert urls("nvidia/label/cuda-12.1.0", cfg) == (f"{MIRROR}/nvidia/label/cuda-12.1.0",)
    # The alias is for names only: conda's built-in defaults are URLs and stay where they are.
    assert urls("defaults", cfg) == BUILTIN_DEFAULTS
    assert resolve_channel(f"{MIRROR}/conda-forge/", cfg).name == "conda-forge"


def test_alias_with_trailing_slash() -> None:
    assert urls("conda-forge", config(channel_alias=MIRROR + "/")) == (f"{MIRROR}/conda-forge",)


def test_default_channels_replace_defaults(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", f"channel_alias: {MIRROR}\ndefault_channels:\n  - http://127.0.0.1:9/main/\n  - extra\n")
    cfg = load_config({}, tmp_path)
    assert cfg.default_channels == ("http://127.0.0.1:9/main/", "extra")
    assert urls("defaults", cfg) == ("http://127.0.0.1:9/main", f"{MIRROR}/extra")


@pytest.mark.parametrize(("platform", "expected"), [
    ("linux", ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")),
    ("darwin", ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")),
    ("win32", ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r",
               "https://repo.anaconda.com/pkgs/msys2")),
])
def test_builtin_default_channels_per_platform(platform: str, expected: tuple[str, ...]) -> None:
    assert builtin_default_channels(platform) == expected


@pytest.mark.parametrize("alias", [None, MIRROR, "http://127.0.0.1:9/anaconda/cloud/"])
def test_defaults_without_default_channels_ignore_the_alias(alias: str | None) -> None:
    channel = resolve_channel("defaults", config(channel_alias=alias))
    assert (channel.kind, channel.urls) == ("defaults", BUILTIN_DEFAULTS)


def test_defaults_with_default_channels_and_alias() -> None:
    cfg = config(channel_alias="http://127.0.0.1:9/anaconda/cloud",
                 default_channels=("http://127.0.0.1:9/anaconda/pkgs/main", "pkgs/r"))
    # Names among the default channels go under the alias (conda's `make_simple_channel`), URLs stay.
    assert urls("defaults", cfg) == ("http://127.0.0.1:9/anaconda/pkgs/main", "http://127.0.0.1:9/anaconda/cloud/pkgs/r")
    assert urls("defaults/linux-64", cfg) == urls("defaults", cfg)


def test_empty_default_channels_make_defaults_empty() -> None:
    cfg = config(default_channels=())
    assert urls("defaults", cfg) == ()
    assert effective_channels(["conda-forge", "defaults"], cfg) == [resolve_channel("conda-forge", cfg)]


def test_custom_channels(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "custom_channels:\n  conda-forge: http://127.0.0.1:9/mirror/\n"
                                 "  pkgs/main: http://127.0.0.1:9/anaconda\n")
    cfg = load_config({}, tmp_path)
    assert urls("conda-forge", cfg) == ("http://127.0.0.1:9/mirror/conda-forge",)
    assert urls("conda-forge/label/dev", cfg) == ("http://127.0.0.1:9/mirror/conda-forge/label/dev",)
    assert urls("pkgs/main", cfg) == ("http://127.0.0.1:9/anaconda/pkgs/main",)
    assert urls("pkgs/r", cfg) == (f"{ALIAS}/pkgs/r",)
    assert urls("bioconda", cfg) == (f"{ALIAS}/bioconda",)
    assert resolve_channel("http://127.0.0.1:9/mirror/conda-forge/label/dev", cfg).name == "conda-forge/label/dev"


def test_custom_multichannels(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", f"channel_alias: {MIRROR}\ncustom_multichannels:\n"
                                 "  team: [conda-forge, http://127.0.0.1:9/private/, conda-forge]\n"
                                 "  defaults: [ignored]\n")
    cfg = load_config({}, tmp_path)
    team = resolve_channel("team", cfg)
    assert (team.name, team.kind) == ("team", "multichannel")
    assert team.urls == (f"{MIRROR}/conda-forge", "http://127.0.0.1:9/private")
    # conda reserves `defaults`: a custom multichannel of that name does not replace it.
    assert urls("defaults", cfg) == BUILTIN_DEFAULTS


def test_relative_paths_count_from_root_dir(tmp_path: Path) -> None:
    root = tmp_path / "project"
    assert urls("./local-channel", root_dir=root) == ((root / "local-channel").as_uri(),)
    assert urls("../shared/channel", root_dir=root) == ((tmp_path / "shared/channel").as_uri(),)
    assert urls(".", root_dir=root) == (root.as_uri(),)
    assert urls("./ch/linux-64", root_dir=root) == ((root / "ch").as_uri(),)


def test_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert urls("~/channels/mine") == ((tmp_path / "channels/mine").as_uri(),)
    assert urls("~") == (tmp_path.as_uri(),)


# -- the channels an environment file ends up searching -----------------------------------------------


def names(channels: list[ResolvedChannel]) -> list[str]:
    return [channel.name for channel in channels]


def test_no_channels_in_file_uses_configured_channels(tmp_path: Path) -> None:
    write(tmp_path / ".condarc", "channels: [conda-forge, bioconda]\n")
    cfg = load_config({}, tmp_path)
    assert names(effective_channels(None, cfg)) == ["conda-forge", "bioconda"]
    assert names(effective_channels([], cfg)) == ["conda-forge", "bioconda"]


def test_no_channels_anywhere_means_defaults() -> None:
    assert effective_channels(None, CondaConfig()) == [resolve_channel("defaults", CondaConfig())]


def test_configured_channels_follow_the_files_channels() -> None:
    # conda env create appends the configured channels unless the file lists `nodefaults`.
    assert names(effective_channels(["conda-forge"], CondaConfig())) == ["conda-forge", "defaults"]
    assert names(effective_channels(["bioconda"], config(channels=("conda-forge",)))) == ["bioconda", "conda-forge"]


@pytest.mark.parametrize(
    "file_channels",
    [["conda-forge", "nodefaults"], ["nodefaults", "conda-forge"], [" nodefaults ", "conda-forge"]],
)
def test_nodefaults(file_channels: list[str]) -> None:
    cfg = config(channels=("defaults", "bioconda"))
    assert names(effective_channels(file_channels, cfg)) == ["conda-forge"]


def test_nodefaults_alone_leaves_no_channel() -> None:
    assert effective_channels(["nodefaults"], CondaConfig()) == []


def test_duplicate_urls_are_searched_once() -> None:
    cfg = config(channel_alias=MIRROR, channels=("conda-forge", "defaults"))
    found = effective_channels(["conda-forge", f"{MIRROR}/conda-forge/", "main", "defaults"], cfg)
    assert names(found) == ["conda-forge", "main", "defaults"]
    assert found[2].urls == BUILTIN_DEFAULTS


def test_effective_channels_resolve_relative_to_the_file(tmp_path: Path) -> None:
    found = effective_channels(["./ch", "nodefaults"], CondaConfig(), root_dir=tmp_path)
    assert [(c.kind, c.urls) for c in found] == [("path", ((tmp_path / "ch").as_uri(),))]


@pytest.mark.parametrize(("spec", "expected"), [
    ("http://127.0.0.1:9/chan::numpy", ("url", ("http://127.0.0.1:9/chan",))),
    ("https://127.0.0.1:9/anaconda/cloud/conda-forge/label/dev::numpy>=1",
     ("url", ("https://127.0.0.1:9/anaconda/cloud/conda-forge/label/dev",))),
    ("file:///srv/ch::numpy", ("path", ("file:///srv/ch",))),
    ("/srv/ch::numpy", ("path", ("file:///srv/ch",))),
    ("conda-forge/label/dev::numpy", ("name", (f"{MIRROR}/conda-forge/label/dev",))),
    ("defaults::numpy", ("defaults", BUILTIN_DEFAULTS)),
])
def test_channel_of_a_qualified_spec(spec: str, expected: tuple[str, tuple[str, ...]]) -> None:
    channel = parse_spec(spec).channel
    assert channel is not None
    resolved = resolve_channel(channel, config(channel_alias=MIRROR))
    assert (resolved.kind, resolved.urls) == expected


def test_a_condarc_that_is_a_fifo_is_passed_over_not_read(tmp_path: Path) -> None:
    """As conda does (it takes regular files only), and without blocking on the FIFO."""
    import os

    rc = tmp_path / ".condarc"
    os.mkfifo(rc)
    (tmp_path / "stdin.yml").symlink_to("/dev/stdin")
    for path in (rc, tmp_path / "stdin.yml"):
        cfg = load_config({"CONDARC": str(path)}, tmp_path / "home")
        assert cfg.sources == () and cfg.problems == ()
