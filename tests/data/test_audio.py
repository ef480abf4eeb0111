"""Audio loading: mono float32 at the requested rate, and errors that name the file."""

import numpy as np
import pytest
import soundfile as sf

from speechrep.data import AudioError, load_audio, save_audio
from speechrep.data.audio import audio_info


def tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_resampling_keeps_length_and_frequency(tmp_path):
    path = save_audio(tmp_path / "t.wav", tone(440.0, 1.0, 22050), 22050)
    wave = load_audio(path, 16000)
    assert wave.dtype == np.float32 and wave.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 16000 / len(wave) - 440.0) <= 1.0


def test_stereo_is_averaged_and_span_is_read(tmp_path):
    left, right = tone(200, 1.0, 16000), np.zeros(16000, np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    wave = load_audio(tmp_path / "s.wav", 16000)
    np.testing.assert_allclose(wave, left / 2, atol=1e-6)
    part = load_audio(tmp_path / "s.wav", 16000, start=0.25, end=0.5)
    np.testing.assert_allclose(part, left[4000:8000] / 2, atol=1e-6)
    with pytest.raises(AudioError, match=r"s\.wav: span \[0.5, 2.0\]s is outside the audio"):
        load_audio(tmp_path / "s.wav", 16000, start=0.5, end=2.0)


def test_bad_audio_errors_name_the_file(tmp_path):
    with pytest.raises(AudioError, match=r"missing\.wav does not exist"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioError, match=r"junk\.wav cannot be read"):
        load_audio(tmp_path / "junk.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav"):
        load_audio(tmp_path / "empty.wav")
    nan = tone(100, 0.1, 16000)
    nan[10] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav holds 1 non-finite"):
        load_audio(tmp_path / "nan.wav")


def test_save_is_atomic_and_refuses_bad_waves(tmp_path):
    with pytest.raises(AudioError, match="non-finite"):
        save_audio(tmp_path / "x.wav", np.array([0.0, np.inf], np.float32), 16000)
    with pytest.raises(AudioError, match="unsupported suffix"):
        save_audio(tmp_path / "x.mp3", np.zeros(10, np.float32), 16000)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind
    path = save_audio(tmp_path / "x.flac", tone(300, 0.5, 16000), 16000)
    info = audio_info(path)
    assert (info.sample_rate, info.num_frames, info.channels) == (16000, 8000, 1)
