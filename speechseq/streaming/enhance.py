"""Front-end stage before the log-mel: `stream.enhance` (measured in docs/frontends.md).

- `none` (default): the samples go to the log-mel as they are.
- `wpe`: single-channel online WPE dereverberation (nara-wpe's OnlineWPE) in a 512-point STFT with
  a 128-sample shift, resynthesised by overlap-add; the output lags the input by 384 samples (24 ms).
  It helped on reverberant (far) validation streams, not on near ones, and costs about 5 ms of CPU
  per 100 ms hop, so it is opt-in.

The stage works on fixed-size chunks counted from the start of the stream and keeps the samples of
an incomplete chunk for the next block, so its output does not depend on how the audio was cut
into blocks: the live loop (StreamingRecognizer) and the offline one (window_posteriors) push the
same samples through the same stage and get the same numbers. nara-wpe is imported only when the
stage is asked for (`pip install 'speechseq[enhance]'`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

ENHANCERS = ("none", "wpe")


@dataclass(frozen=True)
class FrontEndSettings:
    enhance: str = "none"  # none | wpe (dereverberation)

    def __post_init__(self):
        if self.enhance not in ENHANCERS:
            raise ValueError(f"stream.enhance={self.enhance!r}: choose one of {list(ENHANCERS)}")


def _require(module: str, pip_name: str, key: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModuleNotFoundError(f"{key} needs the {pip_name} package: pip install {pip_name} "
                                  f"(or pip install 'speechseq[enhance]')") from None


class FixedChunks:
    """Cuts a stream into chunks of `size` samples counted from its start, keeping the remainder."""

    def __init__(self, size: int):
        self.size = size
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, np.float64)

    def split(self, samples: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._pending, np.asarray(samples, np.float64).reshape(-1)])
        n = buf.size // self.size
        self._pending = buf[n * self.size:]
        return buf[:n * self.size].reshape(n, self.size)


POWER_FLOOR = 1e-10  # far below the STFT power of one int16 LSB of noise (~2e-7): acts on digital silence only


def _floored_online_wpe(wpe_module):
    class FlooredOnlineWPE(wpe_module.OnlineWPE):
        """OnlineWPE with a floor under its power estimate: on digital silence (exact zeros: a muted
        microphone, a file's start) nara-wpe's estimate is 0 and the recursion overflows to NaN."""

        def _update_power_block(self):
            power = wpe_module.get_power(self.buffer.transpose(1, 2, 0))
            self.power = np.maximum(np.mean(power, -1), POWER_FLOOR)

    return FlooredOnlineWPE


class WpeEnhancer:
    """Online WPE dereverberation: STFT frame by frame through nara-wpe's OnlineWPE, then overlap-add.

    taps 10 and delay 3 are nara-wpe's values for 16 kHz at this STFT; alpha (how slowly the
    prediction filter forgets) 0.999 was the better of 0.99 / 0.999 / 0.9999 on the far validation
    stream (docs/frontends.md).
    """

    fft_size, shift = 512, 128

    def __init__(self, taps: int = 10, delay: int = 3, alpha: float = 0.999):
        self._online_wpe = _floored_online_wpe(_require("nara_wpe.wpe", "nara-wpe", "stream.enhance=wpe"))
        self.taps, self.delay, self.alpha = taps, delay, alpha
        # sqrt-Hann analysis and synthesis: their product, the Hann window, sums to 2 at a quarter shift
        self.window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.fft_size) / self.fft_size))
        self.chunks = FixedChunks(self.shift)
        self.reset()

    @property
    def latency_samples(self) -> int:
        return self.fft_size - self.shift

    def reset(self) -> None:
        self.chunks.reset()
        self.reset_filter()
        self._frame = np.zeros(self.fft_size)      # the analysis frame: the last fft_size input samples
        self._overlap = np.zeros(self.fft_size)    # synthesis accumulator

    def reset_filter(self) -> None:
        self._wpe = self._online_wpe(self.taps, self.delay, self.alpha, channel=1,
                                     frequency_bins=self.fft_size // 2 + 1)

    def process(self, samples: np.ndarray) -> np.ndarray:
        out = []
        for chunk in self.chunks.split(samples):
            self._frame = np.concatenate([self._frame[self.shift:], chunk])
            spectrum = np.fft.rfft(self._frame * self.window)[:, None]
            clean = self._wpe.step_frame(spectrum)[:, 0]
            if not np.isfinite(clean).all():  # never seen with the floor; a NaN state would last forever
                self.reset_filter()
                clean = spectrum[:, 0]
            self._overlap += np.fft.irfft(clean, self.fft_size) * self.window / 2.0
            out.append(self._overlap[:self.shift].copy())  # complete: no later frame reaches it
            self._overlap = np.concatenate([self._overlap[self.shift:], np.zeros(self.shift)])
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


class FrontEnd:
    """The stage `settings` ask for: push(samples) -> the samples the log-mel gets."""

    def __init__(self, settings: FrontEndSettings | None = None):
        self.settings = settings or FrontEndSettings()
        self.enhancer = WpeEnhancer() if self.settings.enhance == "wpe" else None

    @property
    def active(self) -> bool:
        return self.enhancer is not None

    def reset(self) -> None:
        if self.enhancer is not None:
            self.enhancer.reset()

    def push(self, samples: np.ndarray) -> np.ndarray:
        return self.enhancer.process(samples) if self.enhancer is not None else samples
