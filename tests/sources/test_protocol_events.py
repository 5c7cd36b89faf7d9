"""The OpenAI Responses and Anthropic Messages decoders: official events to neutral deltas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eager import ExtractionError, StreamError
from eager.sources._anthropic_events import decode_anthropic_event, parse_anthropic_object
from eager.sources._delta import Delta, DeltaSelector
from eager.sources._responses_events import decode_responses_event, parse_responses_object
from eager.sources._sse import SSEDecoder, encode_event

from ._wire import anthropic_events, json_pieces, responses_events

CODE = 'import math\nprint("a\\tb", math.pi)\n'
ARGS = json_pieces({"code": CODE}, 4)


def replay(events: list[tuple[str | None, Any]], decode: Any, *, tool: bool) -> DeltaSelector:
    """Encode the events as SSE bytes, decode them byte by byte, feed a selector."""
    selector = DeltaSelector(tool=tool, tool_name="python")
    wire = b"".join(encode_event(data, event=name) for name, data in events)
    sse = SSEDecoder()
    texts = []
    for i in range(len(wire)):
        for event in sse.feed(wire[i : i + 1]):
            delta = decode(event)
            if delta is not None:
                texts.append(selector.take(delta))
    selector.texts = texts  # type: ignore[attr-defined]
    return selector


# --- OpenAI Responses --------------------------------------------------------------------------


def test_responses_text_deltas_are_the_content_and_completed_ends_with_usage() -> None:
    sel = replay(responses_events(text=["Hi ", "there"]), decode_responses_event, tool=False)
    assert "".join(sel.texts) == "Hi there"  # type: ignore[attr-defined]
    turn = sel.turn()
    assert turn.text == "Hi there" and turn.tool_calls == ()
    assert turn.stop_reason == "completed"
    assert turn.usage == {"input_tokens": 7, "output_tokens": 11, "total_tokens": 18}


def test_responses_function_call_arguments_are_the_tool_text() -> None:
    events = responses_events(text=["Let me run it."], call=ARGS, reasoning=["thinking..."])
    sel = replay(events, decode_responses_event, tool=True)
    assert json.loads("".join(sel.texts)) == {"code": CODE}  # type: ignore[attr-defined]
    (call,) = sel.turn().tool_calls
    assert (call.id, call.name, call.kind) == ("call_1", "python", "function")
    assert json.loads(call.arguments) == {"code": CODE}
    assert sel.turn().text == "Let me run it."


def test_responses_custom_tool_input_is_free_form_code() -> None:
    pieces = [CODE[i : i + 3] for i in range(0, len(CODE), 3)]
    sel = replay(responses_events(call=pieces, kind="custom"), decode_responses_event, tool=True)
    assert "".join(sel.texts) == CODE  # type: ignore[attr-defined]
    assert sel.turn().tool_calls[0].kind == "custom"


def test_responses_incomplete_reports_its_reason_and_ends() -> None:
    events = responses_events(text=["x = 1\n"], end="incomplete")
    delta = decode_responses_event(_sse(events[-1]))
    assert delta == Delta(finish_reason="max_output_tokens", usage=delta.usage, done=True)


@pytest.mark.parametrize(
    ("end", "message"), [("failed", "server_error: the model broke down"), ("error", "slow down")]
)
def test_responses_failures_are_error_deltas_with_the_message(end: str, message: str) -> None:
    delta = decode_responses_event(_sse(responses_events(text=["x"], end=end)[-1]))
    assert delta is not None and delta.error is not None and message in delta.error


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([1, 2], "not a JSON object"),
        ({"delta": "x"}, "without a type"),
        ({"type": "response.output_text.delta", "delta": 3}, "without a string 'delta'"),
        ({"type": "response.function_call_arguments.delta", "delta": "x"}, "output_index"),
        ({"type": "response.output_item.added", "output_index": 0}, "without an item"),
        ({"type": "response.completed"}, "without a response object"),
    ],
)
def test_malformed_responses_events_are_stream_errors(obj: Any, match: str) -> None:
    with pytest.raises(StreamError, match=match):
        parse_responses_object(obj)


def test_responses_unknown_and_bookkeeping_events_are_skipped() -> None:
    for kind in ("response.created", "response.in_progress", "response.web_search_call.searching"):
        assert parse_responses_object({"type": kind, "response": {}}) is None


def test_malformed_responses_json_is_a_stream_error() -> None:
    from eager.sources._sse import SSEEvent

    with pytest.raises(StreamError, match="malformed event JSON"):
        decode_responses_event(SSEEvent('{"type": "response.output_text.delta", "del'))


# --- Anthropic Messages ------------------------------------------------------------------------


def test_anthropic_text_deltas_pings_and_stop_reason() -> None:
    sel = replay(anthropic_events(text=["Hi ", "there"]), decode_anthropic_event, tool=False)
    assert "".join(sel.texts) == "Hi there"  # type: ignore[attr-defined]
    turn = sel.turn()
    assert turn.stop_reason == "end_turn"
    assert turn.usage == {"input_tokens": 7, "output_tokens": 11, "total_tokens": 18}


def test_anthropic_tool_input_json_is_the_tool_text_and_thinking_is_skipped() -> None:
    events = anthropic_events(text=["I'll run it."], call=ARGS, thinking=["hmm"])
    sel = replay(events, decode_anthropic_event, tool=True)
    assert json.loads("".join(sel.texts)) == {"code": CODE}  # type: ignore[attr-defined]
    turn = sel.turn()
    assert turn.text == "I'll run it." and turn.stop_reason == "tool_use"
    (call,) = turn.tool_calls
    assert (call.id, call.name, call.kind) == ("toolu_1", "python", "function")


@pytest.mark.parametrize(
    "reason", ["max_tokens", "refusal", "pause_turn", "stop_sequence", "a_reason_from_2030"]
)
def test_anthropic_every_stop_reason_is_reported_as_given(reason: str) -> None:
    sel = replay(
        anthropic_events(text=["x"], stop_reason=reason), decode_anthropic_event, tool=False
    )
    assert sel.finish_reason == reason == sel.turn().stop_reason


def test_anthropic_error_event_is_an_error_delta() -> None:
    obj = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    delta = decode_anthropic_event(_sse(("error", obj)))
    assert delta is not None and delta.error == "overloaded_error: Overloaded"


def test_anthropic_a_stream_cut_inside_a_tool_call_keeps_the_partial_call() -> None:
    events = anthropic_events(call=ARGS, end=False)[:-2]  # no block stop, no message_delta
    sel = replay(events, decode_anthropic_event, tool=True)
    assert sel.where() == " inside tool call 'python' (toolu_1)"
    turn = sel.turn()
    assert turn.stop_reason is None and turn.tool_calls[0].arguments == "".join(ARGS)


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ("x", "not a JSON object"),
        ({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}}, "index"),
        ({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}, "'text'"),
        ({"type": "content_block_start", "index": 0}, "without a content_block"),
        ({"type": "message_delta"}, "without a delta"),
        ({"type": "message_start"}, "without a message"),
    ],
)
def test_malformed_anthropic_events_are_stream_errors(obj: Any, match: str) -> None:
    with pytest.raises(StreamError, match=match):
        parse_anthropic_object(obj)


def test_anthropic_unknown_events_are_kept_as_blocks_and_deltas_skipped() -> None:
    assert parse_anthropic_object({"type": "ping"}) is None
    new = parse_anthropic_object({"type": "a_new_event"})
    assert new is not None and not (new.content or new.tool_calls or new.reasoning)
    assert [(p.index, p.type) for p in new.parts] == [(None, "a_new_event")]
    delta = {"type": "citations_delta", "citation": {}}
    assert (
        parse_anthropic_object({"type": "content_block_delta", "index": 0, "delta": delta}) is None
    )


# --- the selector ------------------------------------------------------------------------------


def test_a_tool_stream_without_the_tool_is_an_extraction_error_naming_what_was_said() -> None:
    sel = replay(anthropic_events(text=["No code today."]), decode_anthropic_event, tool=True)
    with pytest.raises(ExtractionError, match=r"did not call the tool 'python'.*No code today"):
        sel.check_end()


def test_other_tools_are_kept_in_the_turn_but_not_streamed() -> None:
    events = anthropic_events(call=json_pieces({"q": "x"}), name="search")
    sel = replay(events, decode_anthropic_event, tool=True)
    assert "".join(sel.texts) == ""  # type: ignore[attr-defined]
    assert sel.turn().tool_calls[0].name == "search"


def _sse(event: tuple[str | None, Any]) -> Any:
    (decoded,) = SSEDecoder().feed(encode_event(event[1], event=event[0]))
    return decoded
