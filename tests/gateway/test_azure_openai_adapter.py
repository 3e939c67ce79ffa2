"""The azure-openai adapter: deployment URL, api-version, api-key header, Azure's stream quirks."""

from __future__ import annotations

import pytest

from gateway.errors import UpstreamBadRequestError
from gateway.normal import ChatRequest, EmbeddingRequest, Message
from gateway.providers import ADAPTERS
from tests.gateway.streams import collect, sse

KEY = "0123456789abcdef0123456789abcdef"
CHAT = "/openai/deployments/gpt4o-prod/chat/completions"


@pytest.fixture
def target(make_target, upstream):
    return make_target(
        "azure-openai",
        base_url=upstream.url,  # the resource's root, as https://contoso-eastus.openai.azure.com
        upstream_model="gpt-4o",
        api_key=KEY,
        config={"deployment": "gpt4o-prod", "api_version": "2024-10-21"},
    )


def req() -> ChatRequest:
    return ChatRequest(model="alias", messages=[Message("user", "Hi")])


@pytest.mark.smoke
async def test_chat_uses_deployment_url_version_and_api_key(target, upstream):
    route = upstream.post(CHAT).respond(
        200,
        json={
            "id": "chatcmpl-AzX",
            "object": "chat.completion",
            "created": 1741570283,
            "model": "gpt-4o-2024-08-06",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Hi!"},
                    "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
        },
    )
    resp = await ADAPTERS["azure-openai"].chat(req(), target)

    sent = route.last
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == KEY and "authorization" not in sent.headers
    assert resp.choices[0].message.content == "Hi!" and resp.usage.total_tokens == 11


async def test_stream_skips_azures_leading_filter_chunk(target, upstream):
    events = [
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
        },
        {
            "choices": [{"delta": {"role": "assistant", "content": ""}, "finish_reason": None, "index": 0}],
            "created": 1,
            "id": "chatcmpl-1",
            "model": "gpt-4o",
            "object": "chat.completion.chunk",
        },
        {
            "choices": [{"delta": {"content": "Yo"}, "finish_reason": None, "index": 0}],
            "created": 1,
            "id": "chatcmpl-1",
            "model": "gpt-4o",
            "object": "chat.completion.chunk",
        },
        {
            "choices": [{"delta": {}, "finish_reason": "stop", "index": 0}],
            "created": 1,
            "id": "chatcmpl-1",
            "model": "gpt-4o",
            "object": "chat.completion.chunk",
        },
        {
            "choices": [],
            "created": 1,
            "id": "chatcmpl-1",
            "model": "gpt-4o",
            "object": "chat.completion.chunk",
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
        },
    ]
    route = upstream.post(CHAT).respond(200, chunks=[*(sse(event) for event in events), b"data: [DONE]\n\n"])

    chunks = await collect(ADAPTERS["azure-openai"].chat_stream(req(), target))

    assert route.last.query["api-version"] == "2024-10-21" and route.last.json()["stream"] is True
    assert [c.content for c in chunks[:2]] == ["", "Yo"] and chunks[2].finish_reason == "stop"
    assert chunks[-1].usage.total_tokens == 10


async def test_content_filter_refusal_keeps_message_but_not_the_host(target, upstream):
    upstream.post(CHAT).respond(
        400,
        json={
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management"
                " policy. See https://contoso-eastus.openai.azure.com/docs"
                f" (answered by {target.host} at {upstream.url})",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
            }
        },
    )
    with pytest.raises(UpstreamBadRequestError) as info:
        await ADAPTERS["azure-openai"].chat(req(), target)
    assert "content management policy" in info.value.message
    assert "contoso" not in info.value.message and target.host not in info.value.message


async def test_embeddings_use_the_deployment(target, upstream):
    route = upstream.post("/openai/deployments/gpt4o-prod/embeddings").respond(
        200,
        json={"data": [{"index": 0, "embedding": [1.0, 0.0]}], "usage": {"prompt_tokens": 1, "total_tokens": 1}},
    )
    resp = await ADAPTERS["azure-openai"].embed(EmbeddingRequest("alias", ["x"]), target)
    assert route.last.query["api-version"] == "2024-10-21"
    assert resp.data == [[1.0, 0.0]]
