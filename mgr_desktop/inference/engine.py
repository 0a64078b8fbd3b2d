"""The one classification path used by the CLI, the window and the live readout."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

import numpy as np
import torch

from mgr_desktop.audio.decode import MIN_SECONDS, AudioDecodeError, open_audio
from mgr_desktop.config import FeatureConfig
from mgr_desktop.device import pick_device, pick_precision
from mgr_desktop.dsp.mel import LogMel, normalise, pad_to_window, segment_times
from mgr_desktop.dsp.track_stream import TrackFeatures
from mgr_desktop.inference.fusion import optimise_for_inference
from mgr_desktop.inference.results import FileFailure, Segment, TrackResult
from mgr_desktop.inference.sampled import classify_sampled, sampled_verdict
from mgr_desktop.inference.track_audio import (
    BLOCK_SECONDS,
    SampledAudio,
    TrackAudio,
    Unreadable,
    WholeAudio,
)
from mgr_desktop.inference.track_run import TrackRun
from mgr_desktop.models.aggregate import track_log_probs
from mgr_desktop.models.checkpoint import LoadedModel, ModelInfo, load_model
from mgr_desktop.models.musicnn_lowrank import low_rank_genre_model
from mgr_desktop.models.registry import get_architecture
from mgr_desktop.safetext import printable
from mgr_desktop.verdict import SILENCE_DBFS, Decision, decide, outside_note

if TYPE_CHECKING:
    from mgr_desktop.inference.decode_pool import DecodePool

# One verdict per file and model: the CLI and the window analyse with the same hop (segments
# back to back) and the same sampling, so they agree and share the result cache.
DEFAULT_HOP_SECONDS = 3.0
MIN_HOP_SECONDS, MAX_HOP_SECONDS = 0.1, 60.0
# `auto` takes the exact low-rank front end over int8 where it needs at most this share of
# the plain front end's multiplications (int8 runs ~3.5x faster than float32 here).
LOW_RANK_OVER_INT8 = 0.35
TOP_TAGS = 5
NO_SIGNAL_NOTE = "no signal: the audio is silent or nearly so (below -60 dBFS)"
log = logging.getLogger(__name__)


class InvalidOutputError(Exception):
    """The model produced NaN or infinite numbers."""


class Engine:
    """A loaded model with its own log-mel front end, on one device."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: str | torch.device | None = None,
        hop_seconds: float = DEFAULT_HOP_SECONDS,
        batch_size: int = 32,  # segments a call: 64 measured no faster and ~50 MB larger
        precision: str = "auto",
        sample_segments: int = 0,
        threads: int | None = None,
    ) -> None:
        """`sample_segments` > 0: a long file's verdict from that many segments spread over
        it, decoded by seeking (inference/sampled.py); 0 analyses every segment. `threads`:
        the CPU threads `classify_files` shares among its workers (default: torch's)."""
        self.info: ModelInfo = loaded.info
        self.path = loaded.path
        self.cfg: FeatureConfig = loaded.info.features
        # The genres; an open-set model's "outside" label is decided on, never shown as one.
        self.all_labels = list(loaded.info.labels)
        self.labels = list(loaded.info.genres)
        self.outside, self.outside_at = loaded.info.outside, loaded.info.outside_at
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        if not MIN_HOP_SECONDS <= hop_seconds <= MAX_HOP_SECONDS:  # nan fails too
            raise ValueError(
                f"hop must be {MIN_HOP_SECONDS} to {MAX_HOP_SECONDS} s, not {hop_seconds}"
            )
        self.hop_seconds = hop_seconds
        self.sample_segments = sample_segments
        self.threads = max(1, threads or torch.get_num_threads())
        # musicnn's front end in low-rank form: exact, and a sixth of the work for the shipped
        # model's filters; where it saves less, int8 is `auto` on a CPU.
        asked = (precision or "auto").lower()
        fast = low_rank_genre_model(loaded.model) if asked != "int8" else None
        low_rank_wins = fast is not None and fast.share <= LOW_RANK_OVER_INT8
        wants_int8 = asked == "int8" or (asked == "auto" and not low_rank_wins)
        int8 = _int8_copy(loaded.model) if wants_int8 and self.device.type == "cpu" else None
        self.precision = pick_precision(precision, self.device, int8_ready=int8 is not None)
        # Segments per model call, fewer for huge segments so a batch's activations stay
        # bounded (a model file may ask for 30 s segments of many bands).
        cells = self.cfg.n_mels * self.cfg.segment_frames
        arch = get_architecture(loaded.info.arch)
        self.batch_size = max(1, min(batch_size, 2**21 // cells, arch.segment_batch))
        # A model with a track head gives its verdict from the track's segment embeddings, at
        # the stored temperature; its segment head is calibrated in its own weights. Other
        # models' verdicts pool their segments' log-probabilities at that temperature.
        self.track_head = arch.track_head
        self.temperature = loaded.info.temperature
        self.segment_temperature = 1.0 if self.track_head else self.temperature
        self.tag_names = list(loaded.info.tags)
        self.has_tags = arch.music_tags  # tag logits and embeddings too
        # The tag head needs the unfused module's second output; fusion keeps `forward` only.
        if self.precision == "int8" and int8 is not None:
            self.model = int8
        elif fast is not None:
            self.model = fast.model.to(self.device)
        elif self.has_tags:
            self.model = loaded.model.eval().to(self.device)
        else:
            self.model = optimise_for_inference(loaded.model.eval(), self.device)
        self.mel = LogMel(self.cfg).to(self.device)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], device: str | None = None, **kw: object
    ) -> Engine:
        return cls(load_model(path), device, **kw)  # type: ignore[arg-type]

    # -- features ---------------------------------------------------------------------------
    def log_mel(self, wave: np.ndarray) -> torch.Tensor:
        """Whole-signal log-mel in dB, (n_mels, frames), padded to at least one window."""
        wave = pad_to_window(wave, self.cfg)
        with torch.inference_mode():
            return self.mel(torch.from_numpy(np.ascontiguousarray(wave)).to(self.device))

    # -- model ------------------------------------------------------------------------------
    def segment_outputs(
        self, windows_db: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(n, n_mels, frames) feature windows -> calibrated (n, classes) segment
        log-probabilities, and for a musicnn model its (n, tags) tag logits and (n, dim)
        embeddings; all on the CPU. Raises InvalidOutputError on NaN or infinite output."""
        out, tags, embs = [], [], []
        with torch.inference_mode():
            for i in range(0, len(windows_db), self.batch_size):
                x = normalise(windows_db[i : i + self.batch_size], self.cfg).unsqueeze(1)
                x = x.to(self.device).contiguous(memory_format=torch.channels_last)
                with self._autocast():
                    logits, tag_logits, emb = self._run_model(x)
                if tag_logits is not None and emb is not None:
                    tags.append(tag_logits.float().cpu())
                    embs.append(emb.float().cpu())
                out.append(torch.log_softmax(logits.float() / self.segment_temperature, -1).cpu())
        logp = torch.cat(out)
        if not torch.isfinite(logp).all():
            raise InvalidOutputError("model produced invalid output (NaN or infinite numbers)")
        return logp, (torch.cat(tags) if tags else None), (torch.cat(embs) if embs else None)

    def _autocast(self) -> torch.autocast:
        return torch.autocast("cpu", torch.bfloat16, enabled=self.precision == "bfloat16")

    def _run_model(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        if self.has_tags:
            return self.model.outputs(x)  # type: ignore[operator]
        return self.model(x), None, None

    def segment_log_probs(self, windows_db: torch.Tensor) -> torch.Tensor:
        return self.segment_outputs(windows_db)[0]

    def track_verdict(self, logp: torch.Tensor, embeddings: torch.Tensor | None) -> np.ndarray:
        """Calibrated track probabilities from its (audible) segments."""
        if self.track_head and embeddings is not None:
            with torch.inference_mode():
                z = self.model.track_logits(embeddings.to(self.device)).float().cpu()  # type: ignore[operator]
            p = torch.softmax(z / self.temperature, -1)
            if not torch.isfinite(p).all():
                raise InvalidOutputError("model produced invalid output (NaN or infinite numbers)")
            return p.numpy()
        return track_log_probs(logp).exp().numpy()

    def decide(self, probs: np.ndarray) -> Decision:
        """Probabilities over all the model's labels -> genre, or none of its genres."""
        return decide(probs, self.all_labels, self.outside, self.outside_at)

    def classify_segment(self, wave: np.ndarray) -> np.ndarray:
        """Probabilities over all labels for the last window of a live signal (microphone
        readout); `decide` reads them."""
        db = self.log_mel(wave[-self.cfg.segment_samples :])
        window = db[..., -self.cfg.segment_frames :].unsqueeze(0)
        return self.segment_log_probs(window)[0].exp().numpy()

    def classify_blocks(
        self, blocks: Iterable[np.ndarray], path: str = "", note: Callable[[], str] | None = None
    ) -> TrackResult:
        """A track as blocks of samples at the model's rate -> its verdict, in bounded memory:
        features and segments are cut as the samples arrive and the model runs in batches.
        Blocks of any size give the same result as one block holding the whole track."""
        features = TrackFeatures(self.feature_columns, self.cfg)
        run = TrackRun(self)
        for block in blocks:
            run.push(features.push(block))
        run.push(features.finish())
        return run.finish(features.decoded, features.energy, path, note() if note else "")

    def feature_columns(self, span: np.ndarray) -> np.ndarray:
        """Samples (no centre padding) -> feature columns (n_mels, frames), on the CPU."""
        with torch.inference_mode():
            x = torch.from_numpy(span).to(self.mel.filters.device)
            return self.mel(x, center=False).cpu().numpy()

    def _verdict(
        self,
        path: str,
        duration: float,
        logp: torch.Tensor,
        tag_logits: torch.Tensor | None,
        embeddings: torch.Tensor | None,
        starts: list[int],
        levels: np.ndarray,
        note: str,
    ) -> TrackResult:
        """Segments below the silence level get no genre and do not vote; a track with no
        audible segment gets no verdict."""
        times = segment_times(starts, self.cfg, self.hop_seconds)
        audible = levels > SILENCE_DBFS
        segments = [
            self._segment(min(s, duration), min(e, duration), p, loud)
            for (s, e), p, loud in zip(times, logp.exp().numpy(), audible, strict=True)
        ]
        if not audible.any():
            note = "; ".join(n for n in (NO_SIGNAL_NOTE, note) if n)
            return TrackResult(path, None, 0.0, {}, segments, duration, note=note)
        keep = torch.from_numpy(audible)
        track = self.track_verdict(logp[keep], embeddings[keep] if embeddings is not None else None)
        d = self.decide(track)
        if d.outside:
            note = "; ".join(n for n in (outside_note(d.closest, d.outside_probability), note) if n)
        return TrackResult(
            path=path,
            genre=d.genre,
            confidence=d.confidence,
            probabilities={
                lab: float(p) for lab, p in zip(self.labels, d.genre_probs, strict=True)
            },
            segments=segments,
            duration=duration,
            note=note,
            tags=self._top_tags(tag_logits[keep] if tag_logits is not None else None),
            outside=d.outside,
            outside_probability=d.outside_probability,
        )

    def _segment(self, start: float, end: float, probs: np.ndarray, audible: bool) -> Segment:
        d = self.decide(probs)
        if not audible:  # no signal: no genre, no confidence
            return Segment(start, end, None, 0.0, d.genre_probs)
        return Segment(start, end, d.genre, d.confidence, d.genre_probs, d.outside)

    def _top_tags(self, tag_logits: torch.Tensor | None) -> dict[str, float]:
        if tag_logits is None or not len(tag_logits) or not self.tag_names:
            return {}
        p = torch.sigmoid(tag_logits).mean(0).numpy()
        order = np.argsort(-p)[:TOP_TAGS]
        return {self.tag_names[i]: float(p[i]) for i in order}

    def classify_waveform(self, wave: np.ndarray, path: str = "") -> TrackResult:
        return self.classify_blocks([wave], path)

    def classify_file(
        self,
        path: str | os.PathLike[str],
        block_seconds: float = BLOCK_SECONDS,
        sampled: bool = True,
    ) -> TrackResult:
        """Stream one file through decoding, features and the model; memory stays bounded
        whatever its length. With `sample_segments` set (and `sampled`), a long file's verdict
        comes from that many segments. Raises AudioDecodeError or InvalidOutputError."""
        if self.sample_segments and sampled:
            quick = classify_sampled(self, path, self.sample_segments)
            if quick is not None:
                return quick
        with open_audio(path, self.cfg.sample_rate, min_seconds=MIN_SECONDS) as audio:
            return self.classify_blocks(audio.blocks(block_seconds), str(path), lambda: audio.note)

    def classify_files(
        self, paths: Iterable[str | os.PathLike[str]], workers: int = 2,
        decoders: DecodePool | None = None,
    ) -> Iterator[TrackResult | FileFailure]:  # fmt: skip
        """Results in input order, `workers` files in flight at once, in threads (libsndfile,
        soxr, the FFT and torch release the GIL). With `decoders`, files are decoded in its
        processes (PyAV holds the GIL) and the threads run features and model. On the CPU
        each thread gets its share of the engine's `threads`, set once as it starts (two files
        on one thread each beat one file on two); nothing else's thread count changes."""
        share = max(1, self.threads // workers) if self.device.type == "cpu" else self.threads
        job = (self.cfg, self.sample_segments, BLOCK_SECONDS)
        with ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="classify",
            initializer=torch.set_num_threads,
            initargs=(share,),
        ) as pool:

            def start(p: str | os.PathLike[str]) -> tuple[str, Future[TrackResult]]:
                read = decoders.read(p, job) if decoders is not None else None
                return str(p), pool.submit(self._classify_read, p, read)

            it = iter(paths)
            pending = [start(p) for _, p in zip(range(workers + 1), it, strict=False)]
            while pending:
                name, fut = pending.pop(0)
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(start(nxt))
                yield self._finish(name, fut)

    def _classify_read(
        self, path: str | os.PathLike[str], read: Future[TrackAudio | None] | None
    ) -> TrackResult:
        """The verdict from a decoding process's audio; decoded here without one."""
        if read is None:
            return self.classify_file(path)
        try:
            audio = read.result()
        except BrokenProcessPool:  # a decoding process died (killed, or out of memory)
            log.warning("a decoding process died: decoding %s here", printable(str(path)))
            return self.classify_file(path)
        return self.classify_audio(path, audio)

    def classify_audio(self, path: str | os.PathLike[str], audio: TrackAudio | None) -> TrackResult:
        """The verdict from what `track_audio.read_track` read; None (too long to hold in
        memory) streams the file here. Raises AudioDecodeError or InvalidOutputError."""
        if isinstance(audio, Unreadable):
            raise AudioDecodeError(path, audio.reason)
        if isinstance(audio, SampledAudio):
            return sampled_verdict(self, str(path), audio)
        if isinstance(audio, WholeAudio):
            return self.classify_blocks(audio.blocks, str(path), lambda: audio.note)
        return self.classify_file(path, sampled=False)

    def _finish(self, name: str, fut: Future[TrackResult]) -> TrackResult | FileFailure:
        try:
            return fut.result()
        except AudioDecodeError as e:
            return FileFailure(name, e.reason)
        except InvalidOutputError as e:
            return FileFailure(name, str(e))
        except MemoryError:
            return FileFailure(name, "out of memory while classifying")
        except Exception as e:  # one bad file must not end a batch; the log keeps the trace
            log.exception("unexpected failure on %s", name)
            return FileFailure(name, f"unexpected error: {type(e).__name__}: {e}")


def _int8_copy(model: torch.nn.Module) -> torch.nn.Module | None:
    """The model with its musicnn front end in int8, where this CPU and its weights allow."""
    from mgr_desktop.models.musicnn_int8 import quantize_genre_model

    return quantize_genre_model(model)


def level_dbfs(wave: np.ndarray) -> float:
    """RMS level in dB relative to full scale; -inf-safe (silence is -200)."""
    if not len(wave):
        return -200.0
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    return 20.0 * float(np.log10(max(rms, 1e-10)))
