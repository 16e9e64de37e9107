"""Deterministic `conda env export`-style environment files for the benchmarks.

The default call builds the 200-line file the latency benchmark edits: `name`, four
channels, 166 `name=version=build` conda lines (python and pip among them), a `pip:`
subsection of 25 `name==version` lines, and `prefix:`. Larger calls build the stress
file for the core benchmark; names repeat with a numeric suffix once the list runs out.
"""

from __future__ import annotations

import random

# Real package names, taken from exported files in the shared corpus.
CONDA_NAMES = """
_libgcc_mutex _openmp_mutex absl-py aiohttp aiosignal astor astroid astunparse async-timeout attrs backcall
beautifulsoup4 blas blas-devel blinker brotli-python brotlipy bzip2 c-ares ca-certificates cached-property
cachetools certifi cffi chardet charset-normalizer click colorama coloredlogs cryptography cuda-cudart
cuda-cupti cuda-libraries cuda-nvrtc cuda-nvtx cuda-runtime cuda-version cudatoolkit cudnn decorator ffmpeg
filelock flatbuffers freetype frozenlist gast giflib gmp gmpy2 gnutls google-auth google-auth-oauthlib
google-pasta grpcio h2 h5py hdf5 hpack humanfriendly hyperframe icu idna importlib-metadata intel-openmp
ipykernel ipython isort jedi jinja2 jpeg jupyter_client jupyter_core keras keyutils kiwisolver krb5 lame
lazy-object-proxy lcms2 ld_impl_linux-64 lerc libabseil libaec libarchive libblas libcblas libcublas libcufft
libcufile libcurand libcurl libcusolver libcusparse libdeflate libedit libev libffi libgcc-ng libgfortran-ng
libgfortran5 libgomp libgrpc libhwloc libiconv libidn2 libjpeg-turbo liblapack liblapacke liblzma libnghttp2
libnpp libnsl libnvjpeg libopenblas libpng libprotobuf libsodium libsqlite libssh2 libstdcxx-ng libtasn1
libtiff libunistring libuuid libuv libwebp libwebp-base libxcb libxcrypt libxml2 libxslt libzlib llvm-openmp
lxml lz4-c markdown markupsafe matplotlib-base matplotlib-inline mccabe mkl mkl-devel mkl-include mkl-service
mkl_fft mkl_random mpc mpfr mpmath multidict nccl ncurses nettle networkx numpy numpy-base oauthlib olefile
openh264 openjpeg openssl opt_einsum packaging pandas parso pexpect pickleshare pillow pkginfo
prompt-toolkit psutil pthread-stubs ptyprocess pyasn1 pyasn1-modules pycparser pygments pyopenssl pysocks
""".split()

PIP_NAMES = """
accelerate addict albumentations antlr4-python3-runtime bitsandbytes blobfile datasets diffusers dill einops
fsspec gradio huggingface-hub hydra-core omegaconf peft safetensors sentencepiece tokenizers torchmetrics
transformers wandb xxhash yarl tqdm
""".split()

CHANNELS = ("pytorch", "nvidia", "conda-forge", "defaults")

# Lines that are not dependencies: name, channels: + channels, dependencies:, "- pip:", prefix.
FIXED_LINES = 1 + 1 + len(CHANNELS) + 1 + 1 + 1


def _version(rng: random.Random) -> str:
    parts = [rng.randint(0, 12), rng.randint(0, 30), rng.randint(0, 20)]
    return ".".join(str(p) for p in parts[: rng.choice((2, 3, 3, 3))])


def _build(rng: random.Random) -> str:
    kind = rng.randrange(5)
    number = rng.choice((0, 0, 0, 1, 2, 3, 11, 1003))
    if kind == 0:
        return f"pyhd8ed1ab_{number}"
    if kind == 1:
        return f"py310h{rng.getrandbits(28):07x}_{number}"
    if kind == 2:
        return str(number)
    return f"h{rng.getrandbits(28):07x}_{number}"


def _name(names: list[str], i: int) -> str:
    base = names[i % len(names)]
    return base if i < len(names) else f"{base}-x{i // len(names)}"


def exported_environment(conda: int = 166, pip: int = 25, seed: int = 2718) -> str:
    """The text of an exported environment with ``conda`` conda lines and ``pip`` pip lines.

    ``FIXED_LINES + conda + pip`` lines in all (200 with the defaults). The same arguments
    always give the same text.
    """
    if conda < 2:
        raise ValueError("conda must be at least 2 (python and pip are always listed)")
    rng = random.Random(seed)
    deps = [f"  - {_name(CONDA_NAMES, i)}={_version(rng)}={_build(rng)}" for i in range(conda - 2)]
    deps.append("  - pip=23.0.1=pyhd8ed1ab_0")
    deps.append("  - python=3.10.10=he550d4f_0_cpython")
    deps.sort(key=lambda line: line.split("=", 1)[0])
    pip_lines = [f"      - {_name(PIP_NAMES, i)}=={_version(rng)}" for i in range(pip)]
    lines = [
        "name: bench",
        "channels:",
        *(f"  - {channel}" for channel in CHANNELS),
        "dependencies:",
        *deps,
        "  - pip:",
        *pip_lines,
        "prefix: /home/user/miniconda3/envs/bench",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(exported_environment())
