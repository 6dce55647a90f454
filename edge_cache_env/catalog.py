"""Model catalogs: real open models with every number traced to its source.

Memory follows from published architecture: weights = parameters x bytes per parameter
(2 for fp16/bf16, 0.5 for 4-bit AWQ plus its scales), context = KV-cache bytes per token x the
context window kept for in-context examples, where KV bytes per token =
2 (K and V) x layers x KV heads x head dim x KV_BYTES (1: fp8 KV cache, vLLM's
``kv_cache_dtype="fp8"``, the usual setting when long contexts are kept resident).

Edge speed assumes one A100-80GB (docs/model.md section 11): 312 TFLOPS bf16 and 2,039 GB/s HBM
(NVIDIA A100 datasheet). Decode is memory-bound: one token reads all weights, at 60% of peak
bandwidth (vLLM single-stream figures); prefill is compute-bound at 40% MFU:
``prefill_tok_s = 0.4 * 312e12 / (2 * params)``.

Accuracy: ``acc0`` is the model's published MMLU 5-shot score (model cards / tech reports)
minus 0.05 as the zero-shot stand-in for the edge's own tasks; image models use GenEval
overall, Whisper 1 - WER. ``acc_gain`` per doubling of effective examples starts from GPT-3's
few-shot curves (Brown et al. 2020, Fig. 1.2 and 3.x: +10..15 points from 0 to 32 shots, i.e.
2-3 points per doubling) and is calibrated up to 5 points for many-shot learning on the
edge's recurring tasks (see ``ACC_GAIN``); ``acc_max`` caps the gain at +0.30 (not above 0.97).

Cloud prices: serverless list prices of Together AI (LLMs, FLUX; 2024-2025), Stability AI (SDXL)
and OpenAI (Whisper, per 30 s clip).
"""

from __future__ import annotations

from typing import Any

from edge_cache_env.model_spec import ModelSpec

A100_BF16_FLOPS = 312e12
A100_HBM_GBPS = 2039.0
DECODE_BW_EFFICIENCY = 0.6
PREFILL_MFU = 0.4
# Calibration (README "Calibration"). The context window is sized for many-shot in-context
# learning (Agarwal et al., "Many-Shot In-Context Learning", NeurIPS 2024: accuracy keeps
# rising well past 64 shots): every model keeps W = 64 examples, so a model's context takes
# minutes to build and is worth keeping; losing it is what separates least-context eviction
# from recency. W is the same for every model because the observation (and LC) compares AoC
# as a share of W across models. An LLM's window is 32k tokens (64 demonstrations of 512
# tokens); models with a shorter maximum context (Gemma-2 8k, Llama-2 4k) hold the same 64
# demonstrations compressed to fit (LLMLingua-style prompt compression, 4-8x), so their KV
# memory is that of their maximum context.
WINDOW_TOKENS = 32768  # context kept for in-context examples (KV cache reserved per model)
WINDOW_EXAMPLES = 64  # in-context examples every model's window holds (W)
KV_BYTES = 1  # fp8 KV cache
# Accuracy gained per doubling of effective examples. GPT-3's few-shot curves give 2-3 points
# per doubling up to 32 shots on generic benchmarks; many-shot ICL on an edge's recurring tasks
# (its clients' own formats and labels) gains more: 0.05 per doubling, up to +0.30 at 64
# examples (acc_max = min(0.97, acc0 + 0.30)). Calibrated so that context matters.
ACC_GAIN = 0.05
ACC_HEADROOM = 0.30


def _llm(name: str, params_b: float, layers: int, kv_heads: int, head_dim: int, mmlu: float,
         usd_per_m_tok: float, bytes_per_param: float = 2.0, max_context: int = 131072) -> ModelSpec:
    weights_gb = params_b * bytes_per_param
    kv_bytes_per_token = 2 * layers * kv_heads * head_dim * KV_BYTES
    window = min(WINDOW_TOKENS, max_context)
    acc0 = round(mmlu - 0.05, 3)
    return ModelSpec(
        name=name, kind="llm", params_b=params_b,
        weights_gb=round(weights_gb, 2),
        context_gb=round(kv_bytes_per_token * window / 1e9, 2),
        window_examples=WINDOW_EXAMPLES,
        edge_s_per_request=0.02,  # tokenisation, scheduling, sampling setup
        prefill_tok_s=round(PREFILL_MFU * A100_BF16_FLOPS / (2 * params_b * 1e9), 1),
        decode_s_per_tok=round(weights_gb / (A100_HBM_GBPS * DECODE_BW_EFFICIENCY), 5),
        acc0=acc0, acc_gain=ACC_GAIN, acc_max=min(0.97, round(acc0 + ACC_HEADROOM, 3)),
        cloud_usd_per_1k_tok=usd_per_m_tok / 1000.0, cloud_usd_per_request=0.0,
    )


# Architecture numbers: Hugging Face config.json of each model (num_hidden_layers,
# num_key_value_heads, head_dim = hidden_size / num_attention_heads unless given).
DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    # Llama-3.1-8B: 8.03B params, 32 layers, 8 KV heads, head 128 (Meta model card);
    # MMLU 5-shot 66.7 (Meta); Together "Llama 3.1 8B Instruct Turbo" $0.18 / M tokens.
    _llm("Llama-3.1-8B", 8.03, 32, 8, 128, 0.667, 0.18),
    # Mistral-7B-v0.3: 7.25B, 32 layers, 8 KV heads, head 128, 32k context; MMLU 62.5
    # (Mistral AI); Together $0.20 / M.
    _llm("Mistral-7B", 7.25, 32, 8, 128, 0.625, 0.20, max_context=32768),
    # Qwen2.5-14B: 14.7B, 48 layers, 8 KV heads, head 128; MMLU 79.7 (Qwen2.5 tech report);
    # $0.30 / M (size-class price).
    _llm("Qwen2.5-14B", 14.7, 48, 8, 128, 0.797, 0.30),
    # Phi-3-mini (128k-context variant): 3.82B, 32 layers, 32 KV heads (no GQA), head 96;
    # MMLU 68.8 (Phi-3 report); $0.10 / M.
    _llm("Phi-3-mini", 3.82, 32, 32, 96, 0.688, 0.10),
    # Gemma-2-9B: 9.24B, 42 layers, 8 KV heads, head 256, 8k context; MMLU 71.3 (Gemma 2
    # report); Together $0.30 / M.
    _llm("Gemma-2-9B", 9.24, 42, 8, 256, 0.713, 0.30, max_context=8192),
    # Llama-2-13B: 13.0B, 40 layers, 40 KV heads, head 128, 4k context; MMLU 54.8 (Llama 2
    # paper); Together $0.22 / M.
    _llm("Llama-2-13B", 13.0, 40, 40, 128, 0.548, 0.22, max_context=4096),
    # Qwen2.5-32B-Instruct-AWQ: 32.8B at 4 bits (0.5 B/param; scales add ~10%: 0.55),
    # 64 layers, 8 KV heads, head 128; MMLU 83.3 (Qwen2.5 report); Together $0.80 / M.
    _llm("Qwen2.5-32B-AWQ", 32.8, 64, 8, 128, 0.833, 0.80, bytes_per_param=0.55),
    # SDXL 1.0: UNet 2.6B + text encoders 0.8B + VAE 0.08B = 3.5B (Podell et al. 2023);
    # 1024^2, 30 steps: ~3.5 s on A100; GenEval 0.55 (Ghosh et al. 2023); Stability $0.002/image
    # (SDXL 1.0 API, ~0.2 credits); a 1024^2 PNG is ~1.5 MB. Context: reference
    # image embeddings (IP-Adapter style) and their cross-attention keys/values, 0.5 GB.
    ModelSpec(name="SDXL", kind="image", params_b=3.5, weights_gb=7.0, context_gb=0.5,
              window_examples=WINDOW_EXAMPLES, edge_s_per_request=3.5, prefill_tok_s=0.0,
              decode_s_per_tok=0.0, acc0=0.55, acc_gain=ACC_GAIN, acc_max=0.85,
              cloud_usd_per_1k_tok=0.0,
              cloud_usd_per_request=0.002, response_mb=1.5),
    # FLUX.1-schnell: 12B transformer + T5-XXL 4.76B + CLIP-L 0.12B + VAE 0.08B = 16.96B
    # (Black Forest Labs model card); 4 steps at 1024^2: ~2.0 s on A100; GenEval ~0.68
    # (BFL/community reports); Together $0.003 / megapixel.
    ModelSpec(name="FLUX.1-schnell", kind="image", params_b=16.96, weights_gb=33.92, context_gb=1.0,
              window_examples=WINDOW_EXAMPLES, edge_s_per_request=2.0, prefill_tok_s=0.0,
              decode_s_per_tok=0.0, acc0=0.68, acc_gain=ACC_GAIN, acc_max=0.97,
              cloud_usd_per_1k_tok=0.0,
              cloud_usd_per_request=0.003, response_mb=1.5),
    # Whisper-large-v3: 1.55B (OpenAI model card); a 30 s clip: encoder ~0.3 s + decode of
    # ~100 tokens on A100; accuracy 1 - WER ~ 0.90 (Common Voice 15, model card);
    # OpenAI $0.006 / minute -> $0.003 per 30 s clip. Context: previous-text prompts.
    # Speech gains little from context (previous-text prompts fix names and spelling): 0.01.
    ModelSpec(name="Whisper-large-v3", kind="speech", params_b=1.55, weights_gb=3.1, context_gb=0.2,
              window_examples=WINDOW_EXAMPLES, edge_s_per_request=0.3, prefill_tok_s=0.0,
              decode_s_per_tok=0.002,
              acc0=0.9, acc_gain=0.01, acc_max=0.95, cloud_usd_per_1k_tok=0.0,
              cloud_usd_per_request=0.003, response_mb=0.0),
)

# Small catalog for quick tests and exact lower bounds: six models on a 40 GB GPU (A100-40GB).
SMALL_MODEL_NAMES = ("Llama-3.1-8B", "Mistral-7B", "Phi-3-mini", "Gemma-2-9B", "SDXL",
                     "Whisper-large-v3")
SMALL_MODELS: tuple[ModelSpec, ...] = tuple(m for m in DEFAULT_MODELS if m.name in SMALL_MODEL_NAMES)

# Quantised variants: accuracy = the full-precision MMLU x the quantised model's recovery, the
# ratio of its Open LLM Leaderboard v1 average (which includes MMLU 5-shot) to the unquantised
# model's, as Neural Magic / Red Hat AI report it on each model card. Memory: FP8 weights 1 byte
# per parameter, INT4 (GPTQ/AWQ) 0.5 plus ~10% for group scales (0.55), as the default catalog.
_RECOVERY_8B_FP8 = 73.44 / 73.79  # neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8
_RECOVERY_8B_W4A16 = 67.57 / 69.32  # neuralmagic/Meta-Llama-3.1-8B-Instruct-quantized.w4a16 (GPTQ)
_RECOVERY_70B_FP8 = 84.29 / 84.40  # RedHatAI/Meta-Llama-3.1-70B-Instruct-FP8
_RECOVERY_70B_W4A16 = 78.54 / 78.67  # neuralmagic/Meta-Llama-3.1-70B-Instruct-quantized.w4a16 (GPTQ)

# Large catalog: the default ten plus eleven more LLMs, among them FP8 and INT4 versions of the
# same model, each its own entry (its own memory, load time, speed and accuracy), so a policy
# can trade accuracy for memory. 21 models, 521 GB of footprints in all, on a 192 GB GPU (the
# memory of one NVIDIA B200): ~2.7x oversubscribed (the default: ~2.5x). Speeds stay the A100
# figures above, as for every catalog.
LARGE_EXTRA_MODELS: tuple[ModelSpec, ...] = (
    # Llama-3.1-8B at FP8 and INT4 (same architecture as above; MMLU 66.7 x recovery).
    _llm("Llama-3.1-8B-FP8", 8.03, 32, 8, 128, round(0.667 * _RECOVERY_8B_FP8, 3), 0.18,
         bytes_per_param=1.0),
    _llm("Llama-3.1-8B-W4A16", 8.03, 32, 8, 128, round(0.667 * _RECOVERY_8B_W4A16, 3), 0.18,
         bytes_per_param=0.55),
    # Llama-3.1-70B: 70.6B params, 80 layers, 8 KV heads, head 128 (Meta model card); MMLU
    # 5-shot 79.3 (Meta, pre-trained); Together "Llama 3.1 70B Instruct Turbo" $0.88 / M tokens.
    # Served only quantised here: bf16 (141 GB) would not leave room for anything else.
    _llm("Llama-3.1-70B-FP8", 70.6, 80, 8, 128, round(0.793 * _RECOVERY_70B_FP8, 3), 0.88,
         bytes_per_param=1.0),
    _llm("Llama-3.1-70B-W4A16", 70.6, 80, 8, 128, round(0.793 * _RECOVERY_70B_W4A16, 3), 0.88,
         bytes_per_param=0.55),
    # Qwen2.5-72B-Instruct-AWQ: 72.7B at 4 bits, 80 layers, 8 KV heads, head 128; MMLU 86.1
    # (Qwen2.5 report, base); Together "Qwen2.5 72B Instruct Turbo" $1.20 / M. No published
    # recovery for it: full MMLU, as the default catalog's Qwen2.5-32B-AWQ.
    _llm("Qwen2.5-72B-AWQ", 72.7, 80, 8, 128, 0.861, 1.20, bytes_per_param=0.55),
    # Qwen2.5-7B: 7.62B, 28 layers, 4 KV heads, head 128; MMLU 74.2 (Qwen2.5 report);
    # Together "Qwen2.5 7B Instruct Turbo" $0.30 / M.
    _llm("Qwen2.5-7B", 7.62, 28, 4, 128, 0.742, 0.30),
    # Gemma-2-27B: 27.2B, 46 layers, 16 KV heads, head 128, 8k context; MMLU 75.2 (Gemma 2
    # report); Together $0.80 / M.
    _llm("Gemma-2-27B", 27.2, 46, 16, 128, 0.752, 0.80, max_context=8192),
    # Mistral-Nemo-12B: 12.2B, 40 layers, 8 KV heads, head 128, 128k context; MMLU 68.0
    # (Mistral AI release note); $0.30 / M (size-class price).
    _llm("Mistral-Nemo-12B", 12.2, 40, 8, 128, 0.680, 0.30),
    # Phi-3-medium-128k: 14.0B, 40 layers, 10 KV heads, head 128; MMLU 78.0 (Phi-3 report);
    # $0.30 / M (size-class price).
    _llm("Phi-3-medium", 14.0, 40, 10, 128, 0.780, 0.30),
    # Llama-3.2-3B: 3.21B, 28 layers, 8 KV heads, head 128 (Meta model card); MMLU 5-shot 58.0
    # (Meta, pre-trained); Together "Llama 3.2 3B Instruct Turbo" $0.06 / M.
    _llm("Llama-3.2-3B", 3.21, 28, 8, 128, 0.580, 0.06),
    # Llama-3.2-1B: 1.24B, 16 layers, 8 KV heads, head 64 (Meta model card); MMLU 5-shot 49.3
    # (Meta, pre-trained); $0.06 / M (the 3B's price, the smallest Together lists).
    _llm("Llama-3.2-1B", 1.24, 16, 8, 64, 0.493, 0.06),
)
LARGE_MODELS: tuple[ModelSpec, ...] = DEFAULT_MODELS + LARGE_EXTRA_MODELS
LARGE_GPU_GB = 192.0  # one B200; sum of footprints / GPU ~ 2.7

CATALOGS: dict[str, dict[str, Any]] = {
    "default": {"models": DEFAULT_MODELS},
    # Same calibrated workload as the default (2 requests per slot); half the GPU for ~2x
    # oversubscription with six models.
    "small": {"models": SMALL_MODELS, "server": {"gpu_gb": 40.0}},
    # 21 models with FP8/INT4 variants; too many for the exact lower bound (16) and the oracle
    # (12).
    "large": {"models": LARGE_MODELS, "server": {"gpu_gb": LARGE_GPU_GB}},
}


def catalog_defaults(name: str) -> dict[str, Any]:
    """Config defaults of a named catalog (models and any section defaults it sets)."""
    if name not in CATALOGS:
        raise ValueError(f"unknown catalog {name!r}; known: {sorted(CATALOGS)}")
    entry = CATALOGS[name]
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in entry.items()}
