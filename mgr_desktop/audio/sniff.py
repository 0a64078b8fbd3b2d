"""What a file holds, judged by its first bytes rather than by its name.

`sniff()` names the container so the decoder can be picked by content (an .mp3 that is really
an m4a decodes all the same); `non_audio()` names common non-audio content so the error says
more than "format not recognised".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

# Containers libsndfile reads exactly and quickly; everything else goes to FFmpeg (PyAV),
# Ogg too: FFmpeg's Vorbis decoder is 1.5x as fast as libsndfile's, its Opus 3x, and it reads
# every stream of a chained file.
LIBSNDFILE_KINDS = frozenset({"wav", "rf64", "w64", "aiff", "au", "caf", "flac"})

_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_W64_GUID = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
_IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"crx ")


def id3v2_size(head: bytes) -> int:
    """Bytes taken by a leading ID3v2 tag (0 if none)."""
    if len(head) < 10 or not head.startswith(b"ID3") or any(b & 0x80 for b in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + size + (10 if head[5] & 0x10 else 0)


# Signatures that the first bytes decide alone: (test on the head, kind), in order.
_SIGNATURES: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda h: h.startswith(b"ID3"), "id3"),  # mp3 as a rule; AAC/FLAC can carry one too
    (lambda h: h[:4] in (b"RIFF", b"RIFX") and h[8:12] == b"WAVE", "wav"),
    (lambda h: h[:4] in (b"RF64", b"BW64") and h[8:12] == b"WAVE", "rf64"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI ", "avi"),
    (lambda h: h.startswith(_W64_GUID), "w64"),
    (lambda h: h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"), "aiff"),
    (lambda h: h[:4] == b".snd", "au"),
    (lambda h: h[:4] == b"caff", "caf"),
    (lambda h: h[:4] == b"fLaC", "flac"),
    (lambda h: h[:4] == b"OggS", "ogg"),
    (lambda h: h[4:8] in _MP4_BOXES and h[8:12] not in _IMAGE_BRANDS, "mp4"),
    (lambda h: h[:4] == b"\x1a\x45\xdf\xa3", "matroska"),  # also WebM
    (lambda h: h.startswith(_ASF_GUID), "asf"),  # WMA / WMV
    (lambda h: h[:4] == b"MAC ", "ape"),
    (lambda h: h[:4] == b"wvpk", "wavpack"),
    (lambda h: h[:4] == b"MPCK", "musepack"),
    (lambda h: h[:4] == b"TTA1", "tta"),
    (lambda h: h[:4] == b".RMF", "realmedia"),
    (lambda h: h[:4] == b"\x7f\xfe\x80\x01", "dts"),
    (lambda h: h.startswith((b"MP+", b"#!AMR", b".ra\xfd")), "other"),
    (lambda h: h[:2] == b"\x0b\x77", "ac3"),
)


def sniff(head: bytes) -> str | None:
    """Container kind from the first bytes, or None if no known signature is there."""
    for test, kind in _SIGNATURES:
        if test(head):
            return kind
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # 11 sync bits: MPEG audio (layer bits 01-11) or AAC in ADTS (layer bits 00). Random
        # bytes start so one time in 2,000: ask for a second frame header where the first ends.
        adts = head[1] & 0xF6 == 0xF0
        n = _adts_frame_length(head) if adts else mpeg_frame_length(head[:4])
        if n and (len(head) < n + 2 or (head[n] == 0xFF and head[n + 1] & 0xE0 == 0xE0)):
            return "adts" if adts else "mpeg"
    return None


def _adts_frame_length(head: bytes) -> int | None:
    if len(head) < 7:
        return None
    n = ((head[3] & 0x03) << 11) | (head[4] << 3) | (head[5] >> 5)
    return n if n >= 7 else None


def non_audio(head: bytes) -> str | None:
    """Name common non-audio content, or None."""
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")):
        return "an archive or Python pickle"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return "an image"
    if head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS:
        return "an image"
    if head.startswith((b"\x7fELF", b"MZ")):
        return "a program"
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if all(c.isprintable() or c in "\r\n\t" for c in text):
            return "text"
    return None


_MPEG_BITRATES = {  # kbit/s by (MPEG-1?, layer) for bitrate index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mpeg_frame_length(header: bytes) -> int | None:
    """Length in bytes of the MPEG audio frame whose 4-byte header this is (None if unknown,
    e.g. free-format or not a header)."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = 4 - ((header[1] >> 1) & 3)  # 1, 2, 3 (4 means reserved)
    br_index, sr_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer == 4 or not 1 <= br_index <= 14 or sr_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer if mpeg1 or layer == 1 else 2)][br_index - 1] * 1000
    rate = _MPEG_RATES[version][sr_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    per_frame = 144 if mpeg1 or layer == 2 else 72
    return per_frame * bitrate // rate + padding


def has_vbr_header(data: bytes) -> bool:
    """Whether the first MPEG frame carries a Xing/Info/VBRI header, which states the exact
    frame count (without one, any mp3 duration before decoding is an estimate)."""
    start = id3v2_size(data)
    for i in range(start, min(len(data) - 4, start + 4096)):
        if data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0 and mpeg_frame_length(data[i : i + 4]):
            first = data[i : i + 200]
            return any(tag in first for tag in (b"Xing", b"Info", b"VBRI"))
    return False


@dataclass(frozen=True)
class OggLayout:
    """What an Ogg file's page headers say about the whole of it."""

    cut: bool  # the last page is cut off: the file was truncated
    ended: bool  # the last page carries the end-of-stream mark


_OGG_HEADER = 27  # "OggS", version, flags, granule (8), serial, sequence, CRC, segment count
_OGG_EOS = 0x04
_OGG_CHUNK = 1 << 20  # read a MiB at a time: a page is ~4 KiB, a read per page was slow


def ogg_layout(f: BinaryIO) -> OggLayout:
    """Walk an Ogg file's pages by their headers (skipping the bodies: milliseconds for a
    song). The decoder stops quietly where a cut file ends; this is how to tell."""
    size = os.fstat(f.fileno()).st_size
    buf, base = b"", 0  # the file's bytes base .. base + len(buf)

    def read(at: int, n: int) -> bytes:
        nonlocal buf, base
        if at + n > base + len(buf):
            f.seek(at)
            buf, base = f.read(max(n, _OGG_CHUNK)), at
        return buf[at - base : at - base + n]

    pos, flags, cut = 0, 0, False
    while pos < size:
        header = read(pos, _OGG_HEADER)
        if len(header) < _OGG_HEADER:  # a partial page header, or a few stray bytes
            cut = header.startswith(b"OggS") or b"OggS".startswith(header)
            break
        if not header.startswith(b"OggS"):
            break  # something after the last page (a stray tag): not part of the stream
        table = read(pos + _OGG_HEADER, header[26])
        body = sum(table)
        if len(table) < header[26] or pos + _OGG_HEADER + len(table) + body > size:
            cut = True
            break
        flags = header[5]
        pos += _OGG_HEADER + len(table) + body
    return OggLayout(cut, bool(flags & _OGG_EOS) and not cut)
