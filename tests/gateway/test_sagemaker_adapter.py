"""The sagemaker adapter: InvokeEndpoint (via botocore's Stubber) with a per-endpoint JSON mapping."""

from __future__ import annotations

import io

import orjson
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from gateway.errors import UpstreamError
from gateway.normal import ChatRequest, EmbeddingRequest, Message
from gateway.providers import ADAPTERS, aws
from gateway.providers.sagemaker import at_path, fill_template, render_prompt
from tests.gateway.streams import collect

CREDS = orjson.dumps(
    {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "secretsecretsecret"}
).decode()


def body(data) -> dict:
    raw = orjson.dumps(data)
    return {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"}


def stub_for(target):
    return Stubber(aws.client_for("sagemaker-runtime", target))


def req(**kw) -> ChatRequest:
    return ChatRequest("alias", [Message("system", "Be short."), Message("user", "Name a colour")], **kw)


@pytest.mark.smoke
async def test_default_tgi_mapping(make_target):
    target = make_target("sagemaker", upstream_model="tgi-llama-endpoint", region="us-east-1", api_key=CREDS)
    with stub_for(target) as stub:
        stub.add_response(
            "invoke_endpoint",
            body([{"generated_text": " Blue."}]),
            {
                "EndpointName": "tgi-llama-endpoint",
                "Body": orjson.dumps(
                    {
                        "inputs": "system: Be short.\nuser: Name a colour\nassistant:",
                        "parameters": {"max_new_tokens": 16, "temperature": 0.5, "return_full_text": False},
                    }
                ),
                "ContentType": "application/json",
                "Accept": "application/json",
            },
        )
        resp = await ADAPTERS["sagemaker"].chat(req(max_tokens=16, temperature=0.5), target)

    assert resp.choices[0].message.content == " Blue."
    assert resp.usage.source == "estimate" and resp.usage.completion_tokens == 2


async def test_custom_mapping_with_messages_and_usage_paths(make_target):
    config = {
        "endpoint_name": "lmi-endpoint",
        "inference_component": "llama-ic",
        "request_template": {"messages": "{{messages}}", "max_tokens": "{{max_tokens}}", "model": "{{model}}"},
        "response_text_path": "choices.0.message.content",
        "prompt_tokens_path": "usage.prompt_tokens",
        "completion_tokens_path": "usage.completion_tokens",
        "finish_reason_path": "choices[0].finish_reason",
    }
    target = make_target("sagemaker", upstream_model="llama", region="us-east-1", api_key=CREDS, config=config)
    with stub_for(target) as stub:
        stub.add_response(
            "invoke_endpoint",
            body(
                {
                    "choices": [{"message": {"content": "Red"}, "finish_reason": "length"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 1},
                }
            ),
            {
                "EndpointName": "lmi-endpoint",
                "InferenceComponentName": "llama-ic",
                "Body": orjson.dumps(
                    {
                        "messages": [
                            {"role": "system", "content": "Be short."},
                            {"role": "user", "content": "Name a colour"},
                        ],
                        "model": "llama",
                    }
                ),
                "ContentType": "application/json",
                "Accept": "application/json",
            },
        )
        chunks = await collect(ADAPTERS["sagemaker"].chat_stream(req(), target))

    assert "".join(c.content or "" for c in chunks) == "Red"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]
    assert chunks[-1].usage.prompt_tokens == 12 and chunks[-1].usage.source == "provider"


async def test_model_error_is_a_502(make_target):
    target = make_target("sagemaker", upstream_model="ep", region="us-east-1", api_key=CREDS)
    with stub_for(target) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received server error (500) from primary",
            http_status_code=424,
        )
        with pytest.raises(UpstreamError) as info:
            await ADAPTERS["sagemaker"].chat(req(), target)
    assert info.value.status == 502


async def test_answer_without_text_at_path_is_a_502(make_target):
    target = make_target("sagemaker", upstream_model="ep", region="us-east-1", api_key=CREDS)
    with stub_for(target) as stub:
        stub.add_response("invoke_endpoint", body({"unexpected": True}))
        with pytest.raises(UpstreamError) as info:
            await ADAPTERS["sagemaker"].chat(req(), target)
    assert info.value.code == "upstream_misconfigured"


async def test_embeddings_mapping(make_target):
    config = {"embedding_request_template": {"inputs": "{{input}}", "normalize": True}}
    target = make_target("sagemaker", upstream_model="tei-endpoint", region="us-east-1", api_key=CREDS, config=config)
    with stub_for(target) as stub:
        stub.add_response("invoke_endpoint", body([[0.1, 0.2], [0.3, 0.4]]))
        resp = await ADAPTERS["sagemaker"].embed(EmbeddingRequest("alias", ["a", "b"]), target)
    assert resp.data == [[0.1, 0.2], [0.3, 0.4]]


def test_template_and_path_helpers():
    template = {"a": "{{x}}", "b": ["{{y}}", "lit"], "c": {"d": "{{missing}}"}, "e": "text {{x}}"}
    assert fill_template(template, {"x": [1], "y": 2}) == {"a": [1], "b": [2, "lit"], "c": {}, "e": "text {{x}}"}
    assert at_path({"a": [{"b": 3}]}, "$.a[0].b") == 3
    assert at_path([{"generated_text": "x"}], "0.generated_text") == "x"
    assert at_path({"a": 1}, "a.b") is None
    assert render_prompt(req(), "chatml").endswith("<|im_start|>assistant\n")
