"""Agent frameworks, unchanged, against the gateway: the OpenAI Agents SDK with its default Responses model and
pydantic-ai's ``openai:`` model (also the Responses API), each running an agent that calls a tool, on every
kind of provider the tests can reach: an OpenAI-compatible upstream, an Anthropic one (both fakes on loopback)
and the demo model."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import agents
import httpx
import openai
import pytest
from django.core.management import call_command
from pydantic_ai import Agent as PydanticAgent

from portal.models import UsageEvent
from tests.integration.gateway_setup import create_key, wait_for
from tests.servers import BASE_DIR, free_port

pytestmark = pytest.mark.integration

ALIASES = ["fast-chat", "claude-chat", "demo-chat"]
ANTHROPIC_KEY = "sk-ant-fake-for-tests"
os.environ.setdefault("SB_TEST_ANTHROPIC_KEY", ANTHROPIC_KEY)  # the server resolves env: in its own process
CLAUDE = """
providers:
  - name: local-anthropic
    kind: anthropic
    base_url: {upstream}
    api_key: env:SB_TEST_ANTHROPIC_KEY
models:
  - alias: claude-chat
    kind: chat
    status: approved
    routes:
      - {{provider: local-anthropic, upstream_model: claude-fake, weight: 100}}
    pricing: {{input_per_mtok: 3.0, output_per_mtok: 15.0}}
"""


@pytest.fixture(scope="session")
def anthropic_upstream():
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--port", str(port),
         "--log-level", "warning", "tests.integration.anthropic_upstream:app"],
        cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/_requests", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def agent_gateway(gateway, anthropic_upstream, tmp_path):
    """The gateway of ``gateway_setup`` plus an alias served by the fake Anthropic upstream, and a key for all three."""
    registry_file = tmp_path / "claude.yaml"
    registry_file.write_text(CLAUDE.format(upstream=anthropic_upstream))
    call_command("registry", "apply", str(registry_file), stdout=StringIO())
    key = create_key("acme", "agent-bot", ALIASES)["key"]
    wait_for(lambda: httpx.get(gateway.url + "/models/claude-chat",
                               headers={"authorization": f"Bearer {key}"}).status_code == 200,
             what="the gateway to load the new alias and key")
    return SimpleNamespace(url=gateway.url, key=key)


def metered_through_responses(alias: str, *, at_least: int) -> None:
    wait_for(lambda: UsageEvent.objects.filter(operation="responses", status=200, alias=alias).count() >= at_least,
             what=f"{at_least} calls of /v1/responses on {alias} in the ledger")


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny and 24 C in {city}"


@pytest.fixture
def agents_sdk(agent_gateway):
    """The Agents SDK pointed at the gateway the documented way: a default client and the Responses API."""
    agents.set_tracing_disabled(True)  # tracing would upload to OpenAI, which this machine cannot reach
    agents.set_default_openai_client(openai.AsyncOpenAI(base_url=agent_gateway.url, api_key=agent_gateway.key,
                                                        max_retries=0),
                                     use_for_tracing=False)
    agents.set_default_openai_api("responses")
    yield
    agents.set_default_openai_api("chat_completions")


@pytest.mark.parametrize("alias", ALIASES)
def test_openai_agents_sdk_runs_an_agent_with_a_tool(agents_sdk, alias):
    agent = agents.Agent(name="weather", instructions="Use the tool to answer.", model=alias,
                         tools=[agents.function_tool(get_weather)])
    result = asyncio.run(agents.Runner.run(agent, "What is the weather in Paris?", max_turns=4))
    tool_outputs = [item for item in result.new_items if item.type == "tool_call_output_item"]
    assert len(tool_outputs) == 1 and tool_outputs[0].output.startswith("Sunny and 24 C in ")
    assert result.final_output  # the model answered after the tool's result
    metered_through_responses(alias, at_least=2)  # a tool call, then the answer: both through /v1/responses


@pytest.mark.parametrize("alias", ["claude-chat"])  # the run above covers every provider; one streams
def test_openai_agents_sdk_streams(agents_sdk, alias):
    agent = agents.Agent(name="streamer", instructions="Answer.", model=alias)

    async def run() -> tuple[str, str]:
        streamed = agents.Runner.run_streamed(agent, "Say something")
        deltas = []
        async for event in streamed.stream_events():
            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                deltas.append(event.data.delta)
        return "".join(deltas), streamed.final_output

    text, final = asyncio.run(run())
    assert text and text == final


@pytest.mark.parametrize("alias", ALIASES)
def test_pydantic_ai_openai_model_runs_an_agent_with_a_tool(agent_gateway, monkeypatch, alias):
    monkeypatch.setenv("OPENAI_BASE_URL", agent_gateway.url)
    monkeypatch.setenv("OPENAI_API_KEY", agent_gateway.key)
    agent = PydanticAgent(f"openai:{alias}", instructions="Use the tool to answer.", tools=[get_weather])
    result = agent.run_sync("What is the weather in Paris?")
    returns = [part for message in result.all_messages() for part in message.parts
               if part.part_kind == "tool-return"]
    assert len(returns) == 1 and returns[0].content.startswith("Sunny and 24 C in ")
    assert result.output
    metered_through_responses(alias, at_least=2)
