"""One pretrained foundation model of a catalog: memory, speed, accuracy and cloud price."""

from __future__ import annotations

from dataclasses import dataclass

from edge_cache_env.validation import check, integer, non_negative, plain_numbers, positive

MODEL_KINDS = ("llm", "image", "speech")


@dataclass(frozen=True)
class ModelSpec:
    """One pretrained foundation model: memory, speed, accuracy and cloud price."""

    name: str
    kind: str  # "llm", "image" or "speech"
    params_b: float  # parameters, billions
    weights_gb: float  # GPU memory of the weights
    context_gb: float  # GPU memory held for the context window (KV cache of its tokens)
    window_examples: int  # in-context examples the window holds (W)
    edge_s_per_request: float  # fixed edge compute per request (diffusion steps, audio encoder)
    prefill_tok_s: float  # edge prefill throughput, tokens/s (0 = no token-dependent prefill)
    decode_s_per_tok: float  # edge decode time per output token
    acc0: float  # zero-shot accuracy
    acc_gain: float  # accuracy gained per doubling of effective examples
    acc_max: float  # accuracy ceiling
    cloud_usd_per_1k_tok: float  # cloud price per 1k input+output tokens
    cloud_usd_per_request: float  # cloud price per request (image, audio)
    response_mb: float = 0.0  # payload of a response beyond its tokens (an image)

    def __post_init__(self) -> None:
        plain_numbers(self)
        sec = f"models[{self.name!r}]"
        check(isinstance(self.name, str) and bool(self.name), sec, "name", self.name, "a non-empty string")
        check(self.kind in MODEL_KINDS, sec, "kind", self.kind, f"one of {MODEL_KINDS}")
        positive(sec, self, "params_b", "weights_gb")
        non_negative(sec, self, "context_gb", "edge_s_per_request", "prefill_tok_s", "decode_s_per_tok",
                      "acc0", "acc_gain", "cloud_usd_per_1k_tok", "cloud_usd_per_request", "response_mb")
        integer(sec, "window_examples", self.window_examples, 1)
        non_negative(sec, self, "acc_max")
        check(0 <= self.acc0 <= self.acc_max <= 1, sec, "acc_max", self.acc_max,
               f"in [acc0={self.acc0}, 1]")

    @property
    def mem_gb(self) -> float:
        """Footprint in GPU memory: weights plus the context window."""
        return self.weights_gb + self.context_gb
