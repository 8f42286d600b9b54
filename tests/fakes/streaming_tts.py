"""A streaming TTS behaving like the websocket ones (Deepgram, Cartesia, ElevenLabs).

Like a real streaming plugin it copies its options when a stream opens, before the first text
arrives (so options set later miss that stream), and it synthesizes text as it is pushed, with
no sentence tokenizer in front. Each stream records what it was opened with and every text
chunk with its arrival time; audio is silence, ``ms_per_char`` long per character.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from livekit.agents import APIConnectOptions, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

SAMPLE_RATE = 24_000


@dataclass
class StreamRecord:
    instructions: str
    opened_at: float
    texts: list[tuple[float, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.texts)


class FakeStreamingTTS(tts.TTS):
    def __init__(self, *, instructions: str = "", ms_per_char: float = 2.0) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self.instructions = instructions
        self.ms_per_char = ms_per_char
        self.streams: list[StreamRecord] = []

    @property
    def model(self) -> str:
        return "fake-streaming"

    @property
    def provider(self) -> str:
        return "fake"

    def update_options(self, *, instructions: NotGivenOr[str] = NOT_GIVEN) -> None:
        if instructions is not NOT_GIVEN:
            self.instructions = instructions

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        raise NotImplementedError("this fake only streams")

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> FakeSynthesizeStream:
        return FakeSynthesizeStream(tts=self, conn_options=conn_options)


class FakeSynthesizeStream(tts.SynthesizeStream):
    def __init__(self, *, tts: FakeStreamingTTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._fake = tts
        # The options are fixed when the stream (the provider's websocket) opens.
        self.record = StreamRecord(instructions=tts.instructions, opened_at=time.perf_counter())
        tts.streams.append(self.record)

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        output_emitter.start_segment(segment_id=utils.shortuuid())
        async for data in self._input_ch:
            if isinstance(data, self._FlushSentinel):
                output_emitter.flush()
                continue
            self.record.texts.append((time.perf_counter(), data))
            samples = int(SAMPLE_RATE * self._fake.ms_per_char / 1000 * max(1, len(data)))
            output_emitter.push(b"\x00\x00" * samples)
        output_emitter.end_segment()
