"""Convert the musicnn 0.1.0 TF1 checkpoints (MSD_musicnn, MTT_musicnn) to the PyTorch port's
safetensors, and record the original graph's outputs for tests/models/test_musicnn_parity.py.

Runs once, in a throw-away TensorFlow environment outside the project (no torch needed):

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow tf-keras librosa soxr soundfile safetensors numpy
    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_pkg
    /tmp/tfenv/bin/pip install --no-deps /tmp/musicnn_pkg/musicnn-0.1.0-py3-none-any.whl
    /tmp/tfenv/bin/python training/convert_musicnn.py [--gtzan-mini ../shared/gtzan-mini]

Writes mgr_desktop/data/pretrained/{MSD,MTT}_musicnn.safetensors and
tests/data/musicnn_reference.npz. The package's own extractor() is not used: it carries on with
random weights when the restore fails and repeats the first patch's penultimate for every
patch. Instead the graph comes from musicnn.models.define_model, is restored with a Saver
(Adam slots skipped), and every restored variable is checked against the checkpoint reader.
Features are computed here in float32 (the package casts the mel to float16, which overflows
in log10(10000 * mel + 1) under NumPy 2).
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr

# tf.compat.v1.layers only exists with Keras 2 (the tf-keras package).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

SR = 16000
PATCH = 187
GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
# (seed, seconds): keep identical to tests/models/test_musicnn_parity.py.
GENERATED = ((0, 6.5), (1, 8.7))
OUTPUTS = ("mean_pool", "max_pool", "penultimate", "logits")
ROOT = Path(__file__).resolve().parents[1]


# --- shared with the test: keep identical --------------------------------------------------
def generated_clip(seed: int, seconds: float) -> np.ndarray:
    """Tones, a 2 Hz noise-burst beat and a noise floor at 16 kHz, float32 in [-0.8, 0.8]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = np.zeros(n)
    for f0 in rng.uniform(80.0, 2000.0, size=4):
        y += rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * f0 * t + rng.uniform(0.0, 2 * np.pi))
    y += 0.3 * np.exp(-20.0 * ((2.0 * t) % 1.0)) * rng.standard_normal(n)
    y += 0.01 * rng.standard_normal(n)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def musicnn_features(wave16k: np.ndarray) -> np.ndarray:
    """(96, frames) float32 log10(1 + 10000 * power mel), musicnn's front end in float32."""
    mel = librosa.feature.melspectrogram(
        y=wave16k.astype(np.float32), sr=SR, n_fft=512, hop_length=256, n_mels=96
    ).astype(np.float32)
    return np.log10(np.float32(1) + np.float32(10000) * mel).astype(np.float32)


def patches(features: np.ndarray) -> np.ndarray:
    """Consecutive non-overlapping 187-frame patches from frame 0: (N, 96, 187)."""
    n = features.shape[1] // PATCH
    return np.stack([features[:, i * PATCH : (i + 1) * PATCH] for i in range(n)])


def gtzan_clip(path: Path) -> np.ndarray:
    """First 6 s of a 22 050 Hz GTZAN track (cut before resampling), resampled as the app does."""
    x, sr = sf.read(str(path), frames=6 * 22050, dtype="float32")
    assert sr == 22050 and x.ndim == 1, (path, sr, x.shape)
    return soxr.resample(x, 22050, SR, quality="HQ").astype(np.float32)


# --------------------------------------------------------------------------------------------


def _clips(gtzan_root: Path | None) -> dict[str, np.ndarray]:
    clips = {f"gen{seed}": generated_clip(seed, sec) for seed, sec in GENERATED}
    for genre in GENRES:
        path = gtzan_root / "genres_original" / genre / f"{genre}.00000.wav" if gtzan_root else None
        if path is not None and path.is_file():
            clips[f"gtzan_{genre}"] = gtzan_clip(path)
    return clips


class TFMusicnn:
    """The original graph with the wheel's checkpoint. float32: restored with a Saver and every
    variable checked against the checkpoint reader. float64: the same graph built in float64
    and loaded with those verified values, to separate semantics from float32 rounding."""

    def __init__(self, name: str, float64_from: dict[str, np.ndarray] | None = None) -> None:
        import tensorflow as tf
        from musicnn import configuration, models

        self.tags = configuration.MSD_LABELS if name.startswith("MSD") else configuration.MTT_LABELS
        prefix = os.path.join(os.path.dirname(models.__file__), name) + os.sep
        dtype = tf.float64 if float64_from is not None else tf.float32
        self.dtype = np.float64 if float64_from is not None else np.float32
        graph = tf.Graph()
        with graph.as_default(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.layers deprecation, once per layer
            # Time left open: the model is fully convolutional in time.
            self.x = tf.compat.v1.placeholder(dtype, [None, None, configuration.N_MELS])
            out = models.define_model(self.x, False, name, len(self.tags))
            logits, _timbral, _temporal, _c1, _c2, _c3, mean_pool, max_pool, penult = out
            self.fetch = {
                "mean_pool": mean_pool,
                "max_pool": max_pool,
                "penultimate": penult,
                "logits": logits,
            }
            variables = tf.compat.v1.global_variables()
            threads = tf.compat.v1.ConfigProto(
                intra_op_parallelism_threads=2, inter_op_parallelism_threads=1
            )
            self.sess = tf.compat.v1.Session(graph=graph, config=threads)
            if float64_from is None:
                tf.compat.v1.train.Saver(var_list=variables).restore(self.sess, prefix)
            else:
                for v in variables:
                    v.load(float64_from[v.op.name].astype(np.float64), self.sess)
        self.weights = {v.op.name: self.sess.run(v) for v in variables}
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        in_ckpt = {k for k in reader.get_variable_to_shape_map() if "Adam" not in k}
        in_ckpt -= {"beta1_power", "beta2_power"}
        assert set(self.weights) == in_ckpt, set(self.weights) ^ in_ckpt
        for k, v in self.weights.items():
            assert v.dtype == self.dtype, (k, v.dtype)
            assert np.array_equal(v, reader.get_tensor(k)), f"restore failed for {k}"

    def run(self, mel_first: np.ndarray) -> dict[str, np.ndarray]:
        """(N, 96, T) patches in the app's layout -> the graph's outputs."""
        feed = {self.x: np.ascontiguousarray(mel_first.transpose(0, 2, 1), dtype=self.dtype)}
        return self.sess.run(self.fetch, feed)


def torch_state(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TF variables -> mgr_desktop.models.musicnn.Musicnn state_dict (float32, no counters).

    tf.layers names by creation order: input BN, timbral 38/67-bin convs, temporal 128/64/32
    convs, three mid-end convs, pooled BN, dense, dense BN, output dense.
    """
    sd: dict[str, np.ndarray] = {}

    def bn(dst: str, i: int) -> None:
        src = "batch_normalization" + (f"_{i}" if i else "")
        for a, b in (
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "moving_mean"),
            ("running_var", "moving_variance"),
        ):
            sd[f"{dst}.{a}"] = w[f"{src}/{b}"]

    def conv(dst: str, i: int, conv1d: bool) -> None:
        src = "conv2d" + (f"_{i}" if i else "")
        k = w[f"{src}/kernel"]  # (time, freq_or_channels, in, out)
        # Conv2d wants (out, in, freq, time); the mid-end's Conv1d (out, channels, time).
        sd[f"{dst}.weight"] = (
            k[:, :, 0, :].transpose(2, 1, 0) if conv1d else k.transpose(3, 2, 1, 0)
        )
        sd[f"{dst}.bias"] = w[f"{src}/bias"]

    bn("input_bn", 0)
    blocks = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2"]
    blocks += ["mid.0", "mid.1", "mid.2"]
    for i, dst in enumerate(blocks):
        conv(f"{dst}.conv", i, conv1d=dst.startswith("mid"))
        bn(f"{dst}.bn", i + 1)
    bn("pool_bn", 9)
    sd["dense.weight"], sd["dense.bias"] = w["dense/kernel"].T, w["dense/bias"]
    bn("dense_bn", 10)
    sd["out.weight"], sd["out.bias"] = w["dense_1/kernel"].T, w["dense_1/bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def save_safetensors(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    """float32 safetensors with a sorted header, so that a rerun writes the same bytes
    (safetensors' own writer orders the metadata by a randomly seeded hash map)."""
    from safetensors.numpy import load_file

    header: dict[str, object] = {"__metadata__": dict(sorted(meta.items()))}
    offset, blobs = 0, []
    for k in sorted(tensors):
        blob = np.ascontiguousarray(tensors[k], dtype="<f4").tobytes()
        header[k] = {
            "dtype": "F32",
            "shape": list(tensors[k].shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        offset += len(blob)
        blobs.append(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the format pads the header to 8 bytes
    path.write_bytes(len(head).to_bytes(8, "little") + head + b"".join(blobs))
    back = load_file(str(path))
    assert back.keys() == tensors.keys()
    assert all(np.array_equal(back[k], tensors[k]) for k in tensors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtzan-mini", type=Path, default=ROOT.parent / "shared" / "gtzan-mini")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "mgr_desktop/data/pretrained")
    ap.add_argument("--reference", type=Path, default=ROOT / "tests/data/musicnn_reference.npz")
    args = ap.parse_args()

    clips = _clips(args.gtzan_mini if args.gtzan_mini.is_dir() else None)
    clip_patches = {k: patches(musicnn_features(v)) for k, v in clips.items()}
    net = clip_patches["gen0"]  # stored verbatim: network parity without the front end
    # Also lengths other than 187, cut from the stored patches' concatenation.
    joined = np.concatenate(list(net), axis=1)
    ref: dict[str, np.ndarray] = {"net/patches": net}
    for k, v in clips.items():
        ref[f"clip/{k}/n_samples"] = np.array(len(v))

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("MSD_musicnn", "MTT_musicnn"):
        m = TFMusicnn(name)
        sd = torch_state(m.weights)
        config = {
            "n_mels": 96,
            "num_filt_midend": int(sd["mid.0.conv.weight"].shape[0]),
            "num_units_backend": int(sd["dense.weight"].shape[0]),
            "n_tags": len(m.tags),
        }
        meta = {
            "tags": json.dumps(list(m.tags)),
            "source": f"musicnn 0.1.0 {name} checkpoint",
            "config": json.dumps(config),
            "features": "16 kHz mono; log10(1 + 10000 * librosa power mel: n_fft 512, hop 256, "
            "96 mels, slaney); input (batch, 1, 96, frames); trained on 187-frame patches",
            "license": "ISC, Music Technology Group, Universitat Pompeu Fabra 2019",
        }
        save_safetensors(args.out_dir / f"{name}.safetensors", sd, meta)
        m64 = TFMusicnn(name, float64_from=m.weights)
        for graph, tag in ((m, "f32"), (m64, "f64")):
            for k, v in graph.run(net).items():
                ref[f"{name}/net/{tag}/{k}"] = v
            for length in (188, joined.shape[1]):
                for k, v in graph.run(joined[None, :, :length]).items():
                    ref[f"{name}/net{length}/{tag}/{k}"] = v
        for clip, p in clip_patches.items():
            for k, v in m.run(p).items():
                ref[f"{name}/clip/{clip}/{k}"] = v
        print(name, config, "clips:", {c: len(p) for c, p in clip_patches.items()})

    args.reference.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.reference, **ref)
    print("wrote", args.reference, args.reference.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
