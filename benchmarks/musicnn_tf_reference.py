"""The musicnn package's own TF network on the same files, for benchmarks/default_model_speed.py.

Runs only in a benchmark environment that has TensorFlow, tf-keras and the musicnn wheel (the
app never needs them), e.g. the one training/convert_musicnn.py describes:

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python benchmarks/musicnn_tf_reference.py FILE...

Prints one JSON line: seconds per file for (a) the package's `extractor()` as users call it
(it rebuilds the graph on every call) and (b) the same graph with its session reused, on
librosa features computed in float32 (the package's float16 overflows under NumPy 2).
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    import librosa
    import numpy as np
    import tensorflow as tf
    from musicnn import configuration, models
    from musicnn.extractor import extractor

    files = sys.argv[1:]
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    for f in files[:3]:  # as users call it: a new graph and session per call
        extractor(f, model="MSD_musicnn", extract_features=True)
    per_call = (time.perf_counter() - t0) / min(3, len(files))

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, configuration.N_MELS])
        out = models.define_model(x, False, "MSD_musicnn", 50)
        sess = tf.compat.v1.Session(
            graph=graph,
            config=tf.compat.v1.ConfigProto(
                intra_op_parallelism_threads=2, inter_op_parallelism_threads=1
            ),
        )
        prefix = os.path.join(os.path.dirname(models.__file__), "MSD_musicnn") + os.sep
        tf.compat.v1.train.Saver().restore(sess, prefix)

    def one(f: str) -> None:
        y, sr = librosa.load(f, sr=16000)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=256, n_fft=512, n_mels=96)
        rep = np.log10(10000 * mel.T.astype(np.float32) + 1)
        n = rep.shape[0] // 187
        patches = rep[: n * 187].reshape(n, 187, 96)
        sess.run(out[0], {x: patches})

    one(files[0])
    t0 = time.perf_counter()
    for f in files:
        one(f)
    reused = (time.perf_counter() - t0) / len(files)
    print(json.dumps({"extractor_per_file_s": per_call, "session_reused_per_file_s": reused}))


if __name__ == "__main__":
    main()
