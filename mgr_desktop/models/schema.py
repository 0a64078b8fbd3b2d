"""The schema of a model file's metadata: strict types, bounded sizes, ranges and cross-checks.

A model file is input from a stranger. Everything here runs before a single tensor or model is
allocated, so metadata cannot make the app spend memory or time it does not state honestly:
the JSON text is bounded in size and nesting before it is parsed, every value has one type
(no `true` for 1, no 2048.9 for 2048), labels are short printable names, and the feature
settings are checked by `FeatureConfig` against bounds that keep inference cheap and finite.
No torch here: the model picker validates files at start-up with this alone.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from mgr_desktop.config import COMPRESSIONS, FeatureConfig
from mgr_desktop.models.registry import ARCHITECTURES
from mgr_desktop.safetext import escape

FORMAT = "mgr-desktop-model"
FORMAT_VERSION = 1
MAX_META_CHARS = 1024 * 1024  # the JSON text; 1,000 labels of 64 characters take 70 KB
MAX_DEPTH = 16  # nesting of JSON arrays and objects
MAX_LABELS = 1000
MAX_LABEL_CHARS = 64
MAX_TEXT_CHARS = 4096  # name, dates, paths in the training summary


class MetadataError(ValueError):
    """One line saying what is wrong with the metadata (the caller adds the file name)."""


def _check_label(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    if not value.isprintable():  # newlines, escape codes, bidi overrides, zero-width marks
        raise ValueError("must be printable text without control characters")
    return value


def _check_tag(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable text without control characters")
    return value


Label = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_LABEL_CHARS), AfterValidator(_check_label)
]
Tag = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_LABEL_CHARS), AfterValidator(_check_tag)
]
Text = Annotated[StrictStr, Field(max_length=MAX_TEXT_CHARS)]
Fraction = Annotated[StrictFloat, Field(ge=0, le=1)]


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("names must be distinct")
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, frozen=True)


class FeaturesSchema(_Strict):
    """Types of `FeatureConfig`; its ranges are checked by `FeatureConfig` itself."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: StrictInt = FeatureConfig.sample_rate
    n_fft: StrictInt = FeatureConfig.n_fft
    hop_length: StrictInt = FeatureConfig.hop_length
    n_mels: StrictInt = FeatureConfig.n_mels
    fmin: StrictFloat = FeatureConfig.fmin
    fmax: StrictFloat | None = FeatureConfig.fmax
    segment_seconds: StrictFloat = FeatureConfig.segment_seconds
    ref_power: StrictFloat = FeatureConfig.ref_power
    amin: StrictFloat = FeatureConfig.amin
    db_floor: StrictFloat = FeatureConfig.db_floor
    db_ceiling: StrictFloat = FeatureConfig.db_ceiling
    norm_mean: StrictFloat = FeatureConfig.norm_mean
    norm_std: StrictFloat = FeatureConfig.norm_std
    compression: Literal[COMPRESSIONS] = FeatureConfig.compression  # type: ignore[valid-type]
    log_gain: StrictFloat = FeatureConfig.log_gain

    @model_validator(mode="after")
    def _in_bounds(self) -> FeaturesSchema:
        self.to_config()  # FeatureConfig's ranges; its ValueError becomes this field's error
        return self

    def to_config(self) -> FeatureConfig:
        values = self.model_dump()
        for k in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            # Python ints have no size limit; the range check must not meet a 10**4000.
            if not -(2**62) < values[k] < 2**62:
                raise ValueError(f"invalid feature settings: {k} out of range")
        return FeatureConfig(**values)


class TrainingSummary(_Strict):
    """Free-form facts about the training run, shown in tooltips; numbers we format are typed."""

    model_config = ConfigDict(extra="allow")

    test_track_accuracy: Fraction | None = None
    valid_track_accuracy: Fraction | None = None
    test_segment_accuracy: Fraction | None = None
    test_macro_f1: Fraction | None = None
    split: Text | None = None

    @model_validator(mode="after")
    def _bounded_extras(self) -> TrainingSummary:
        extra = self.model_extra or {}
        if len(extra) > 256:
            raise ValueError("too many entries")
        for key, value in extra.items():
            if len(key) > MAX_LABEL_CHARS:
                raise ValueError(f"key {escape(key, 20)!r} is too long")
            _check_json_value(value)
        return self


def _check_json_value(value: Any) -> None:
    """Any JSON value, but with finite numbers and bounded strings (depth is bounded earlier)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"text longer than {MAX_TEXT_CHARS} characters")
    if isinstance(value, list):
        for v in value:
            _check_json_value(v)
    elif isinstance(value, dict):
        for v in value.values():
            _check_json_value(v)


class MetadataSchema(_Strict):
    """The JSON document under the `mgr_desktop` key of a model file's header."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["mgr-desktop-model"]
    format_version: Annotated[StrictInt, Field(ge=1, le=FORMAT_VERSION)]
    arch: StrictStr
    labels: Annotated[
        list[Label], Field(min_length=2, max_length=MAX_LABELS), AfterValidator(_distinct)
    ]
    features: FeaturesSchema
    training: TrainingSummary = TrainingSummary()
    name: Annotated[StrictStr, Field(max_length=200)] = ""
    created: Annotated[StrictStr, Field(max_length=64)] = ""
    app_version: Annotated[StrictStr, Field(max_length=64)] = ""
    temperature: Annotated[StrictFloat, Field(ge=0.05, le=20)] = 1.0
    tags: Annotated[list[Tag], Field(max_length=MAX_LABELS)] = []  # may repeat (MSD + MTT)
    outside: StrictStr = ""  # one of the labels, or '' for none
    outside_at: Annotated[StrictFloat, Field(gt=0, le=1)] = 0.5

    @model_validator(mode="after")
    def _cross_checks(self) -> MetadataSchema:
        arch = ARCHITECTURES.get(self.arch)
        if arch is None:
            known = ", ".join(sorted(ARCHITECTURES))
            raise ValueError(f"unknown architecture {escape(self.arch, 40)!r} (known: {known})")
        if self.outside and self.outside not in self.labels:
            raise ValueError(f"outside label {escape(self.outside, 40)!r} is not one of the labels")
        if self.outside and len(self.labels) < 3:
            raise ValueError("a model with an outside label needs at least two genres besides it")
        if self.features.n_mels < arch.min_n_mels:
            raise ValueError(
                f"n_mels {self.features.n_mels} is too few for architecture {self.arch} "
                f"(it needs at least {arch.min_n_mels})"
            )
        return self


def _depth_ok(text: str, limit: int = MAX_DEPTH) -> bool:
    """Nesting of arrays/objects outside strings, counted without parsing (no recursion)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(text: str) -> Any:
    """Parse bounded, strict JSON: no NaN/Infinity, bounded size and nesting."""
    if len(text) > MAX_META_CHARS:
        raise MetadataError(
            f"model metadata is too large ({len(text) / 1e6:.1f} MB; at most "
            f"{MAX_META_CHARS // 1024} KB)"
        )
    if not _depth_ok(text):
        raise MetadataError(f"model metadata is nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise MetadataError(f"model metadata is not valid JSON ({escape(str(e))})") from None


_PLAIN = {
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be text",
    "list_type": "must be a list",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "missing": "is missing",
    "extra_forbidden": "is not a known setting",
}


def _describe(e: ValidationError) -> str:
    """The first problem, in one line: where, what, and (for wrong types) what was there."""
    err = e.errors(include_url=False)[0]
    loc = ".".join(str(x) for x in err["loc"])
    kind = err["type"]
    msg = _PLAIN.get(kind) or str(err["msg"]).removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    if kind in _PLAIN and kind not in {"missing", "extra_forbidden"}:
        msg += f", got {_short(err.get('input'))}"
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    where = f"metadata {loc}: " if loc else "metadata: "
    return escape(where + msg, 200) + more


def _short(value: Any) -> str:
    """A JSON value shown in a message: its type when it is a container, else a short repr."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return escape(json.dumps(value[:40]), 44)
    return escape(
        json.dumps(value) if value is None or isinstance(value, bool) else repr(value), 40
    )


def validate_metadata(meta: Any) -> MetadataSchema:
    """The parsed metadata document, validated; MetadataError says what is wrong in one line."""
    if not isinstance(meta, dict):
        raise MetadataError(f"model metadata must be a JSON object, got {_short(meta)}")
    if meta.get("format") != FORMAT:
        raise MetadataError("a safetensors file, but not an mgr-desktop model")
    version = meta.get("format_version")
    if type(version) is int and version > FORMAT_VERSION:
        raise MetadataError(
            f"written by a newer mgr-desktop (format {version}); please update the app"
        )
    if type(version) is not int or version < 1:
        raise MetadataError(f"invalid format_version {escape(repr(version), 40)}")
    try:
        return MetadataSchema.model_validate(meta)
    except ValidationError as e:
        raise MetadataError(_describe(e)) from None
