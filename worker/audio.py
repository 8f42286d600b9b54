"""A null audio sink: accepts TTS frames as if played instantly (text mode, tests, bench).

``tts_node`` only runs when the session has an audio output; this one lets the whole voice
path (TTS requests, instructions, first-byte metrics) run without a room or a sound card.
"""

from __future__ import annotations

import time

from livekit import rtc
from livekit.agents.voice import io


class NullAudioOutput(io.AudioOutput):
    def __init__(self, *, sample_rate: int | None = None) -> None:
        super().__init__(
            label="NullAudioOutput",
            capabilities=io.AudioOutputCapabilities(pause=False),
            sample_rate=sample_rate,
        )
        self.frames = 0
        self.duration = 0.0
        self.first_frame_at: float | None = None
        self._segment_duration = 0.0
        self._capturing = False

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._capturing:
            self._capturing = True
            self.on_playback_started(created_at=time.time())
        if self.first_frame_at is None:
            self.first_frame_at = time.perf_counter()
        self.frames += 1
        self.duration += frame.duration
        self._segment_duration += frame.duration

    def flush(self) -> None:
        super().flush()
        if self._capturing:
            self._capturing = False
            played, self._segment_duration = self._segment_duration, 0.0
            self.on_playback_finished(playback_position=played, interrupted=False)

    def clear_buffer(self) -> None:
        if self._capturing:
            self._capturing = False
            played, self._segment_duration = self._segment_duration, 0.0
            self.on_playback_finished(playback_position=played, interrupted=True)
